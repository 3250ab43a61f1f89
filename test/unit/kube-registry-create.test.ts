/**
 * The Kubernetes registry's selection (a new instance exactly when its settings change) and its
 * lazy loading: the overlay's and the DNS controller's static module graphs reach none of the API
 * client or the registry; they are imported only when overlay.kubernetes or
 * dns.serviceEntries.kubernetes is on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { defaultConfig } from '../../src/config/defaults.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { registries } from '../../src/registry/create.js';
import { REPO_ROOT, deepMerge } from '../helpers/agent-process.js';

const config = (extra: Record<string, unknown>): Config => configSchema.parse(deepMerge(defaultConfig(), extra));
const kube = { kubernetes: { server: 'https://10.0.0.10:6443', caFile: '/ca.crt', tokenFile: '/token' } };
const on = (overlay: Record<string, unknown> = {}, top: Record<string, unknown> = kube): Config => config({ ...top, overlay: { enabled: true, ...overlay, kubernetes: { enabled: true, ...(overlay.kubernetes as Record<string, unknown> | undefined) } } });
const keyOf = (c: Config, stateDir = '/var/lib/x'): string | undefined => registries.key(c.overlay, stateDir, c.kubernetes);

/** Files reached from `entry` through imports that stay at run time (not `import type`). */
function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const IMPORT = /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"](\.[^'"]+)['"]/g;
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (/^(import|export)\s+type\b/.test(m[0])) continue;
      visit(resolve(dirname(file), m[1] ?? '').replace(/\.js$/, '.ts'));
    }
  };
  visit(entry);
  return seen;
}

void describe('Kubernetes registry selection and loading', () => {
  void test('a key when overlay.kubernetes is on; a new one exactly when the registry settings or the connection change', () => {
    assert.equal(keyOf(config({ overlay: { enabled: true, subnet: '10.234.3.0/24' } })), undefined);
    const base = keyOf(on());
    assert.ok(base?.startsWith('["kubernetes"'));
    for (const same of [{ resync: '5s' }, { mtu: 1400 }, { underlay: { interface: 'eth1', address: '' } }]) assert.equal(keyOf(on(same)), base, JSON.stringify(same));
    const changed = [
      on({ kubernetes: { nodeName: 'vm-2' } }),
      on({ kubernetes: { allocatorWait: '0s' } }),
      on({ kubernetes: { configMap: { name: 'kube-flannel-cfg', namespaces: ['kube-system'] } } }),
      on({ vni: 2 }),
      on({ subnet: '10.234.3.0/24' }),
      on({}, { kubernetes: { ...kube.kubernetes, tokenFile: '/other-token' } }),
    ];
    for (const c of changed) assert.notEqual(keyOf(c), base, JSON.stringify([c.overlay.kubernetes, c.kubernetes.tokenFile]));
    assert.notEqual(keyOf(on(), '/var/lib/y'), base, 'another stateDir');
  });

  void test('the overlay and DNS controllers import no API client or registry code statically', () => {
    for (const entry of ['src/overlay/module.ts', 'src/dns/controller.ts']) {
      const reached = [...staticGraph(join(REPO_ROOT, entry))].map((f) => f.slice(REPO_ROOT.length + 1));
      const kubeCode = reached.filter((f) => (f.startsWith('src/kube/') && f !== 'src/kube/config-schema.ts') || (f.startsWith('src/registry/kube/') && f !== 'src/registry/kube/config.ts') || f === 'src/dns/service-entries-kube.ts');
      assert.deepEqual(kubeCode, [], entry);
    }
  });

  void test('overlay.kubernetes without a connection, or with overlay.etcd, is refused with the fix', () => {
    assert.throws(() => on({}, {}), /the Kubernetes registry needs the API: set kubernetes.kubeconfig/);
    assert.throws(() => on({ etcd: { endpoints: ['http://10.0.0.1:2379'] } }), /either overlay.etcd.endpoints or overlay.kubernetes, not both/);
    assert.throws(() => on({ kubernetes: { configMap: { name: 'kube-flannel-cfg', namespaces: [] } } }), /set overlay.network/);
    assert.throws(() => on({ kubernetes: { nodeName: 'Not_A_Node' } }), /not a Node name/);
    assert.throws(() => config({ dns: { serviceEntries: { kubernetes: true } } }), /ServiceEntries from the API need the API/);
    assert.equal(on({ kubernetes: { configMap: { name: 'kube-flannel-cfg', namespaces: [] } }, network: '10.244.0.0/16' }).overlay.kubernetes.configMap.namespaces.length, 0);
  });
});
