import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { defaultConfig } from '../../src/config/defaults.js';
import { configSchema, type OverlayConfig } from '../../src/config/schema.js';
import { registries } from '../../src/registry/create.js';
import { REPO_ROOT, deepMerge } from '../helpers/agent-process.js';

const overlay = (extra: Record<string, unknown> = {}): OverlayConfig => configSchema.parse(deepMerge(defaultConfig(), { overlay: { enabled: true, ...extra } })).overlay;
const etcd = { endpoints: ['http://127.0.0.1:2379'] };

void describe('registry selection', () => {
  void test('no registry without etcd endpoints; a new instance exactly when the registry settings change', () => {
    assert.equal(registries.key(overlay({ subnet: '10.234.3.0/24' }), '/var/lib/x'), undefined);
    const base = registries.key(overlay({ etcd }), '/var/lib/x');
    assert.ok(base !== undefined);
    // Settings the registry does not use leave the running instance alone.
    for (const same of [{ resync: '5s' }, { mtu: 1400 }, { peers: [{ subnet: '10.234.0.0/24', publicIP: '192.168.0.70', vtepMAC: '5a:09:44:c7:a3:fb' }] }, { underlay: { interface: 'eth1', address: '' } }]) {
      assert.equal(registries.key(overlay({ etcd, ...same }), '/var/lib/x'), base, JSON.stringify(same));
    }
    const changed = [
      overlay({ etcd: { endpoints: ['http://127.0.0.2:2379'] } }),
      overlay({ etcd: { ...etcd, prefix: '/other' } }),
      overlay({ etcd: { ...etcd, register: false }, subnet: '10.234.3.0/24' }),
      overlay({ etcd: { ...etcd, tls: { ca: '/ca.pem', cert: '', key: '' } } }),
      overlay({ etcd, vni: 2 }),
      overlay({ etcd, port: 4789 }),
      overlay({ etcd, network: '10.234.0.0/16' }),
      overlay({ etcd, subnet: '10.234.3.0/24' }),
    ];
    for (const c of changed) assert.notEqual(registries.key(c, '/var/lib/x'), base, JSON.stringify(c.etcd));
    assert.notEqual(registries.key(overlay({ etcd }), '/var/lib/y'), base, 'another stateDir');
  });

  void test('the overlay loads no etcd or gRPC code unless a registry is configured', { timeout: 180_000 }, async () => {
    // A fresh process: what the overlay's module graph loads, then what creating the etcd registry adds.
    const script = `
      import { createRequire } from 'node:module';
      const cache = createRequire(import.meta.url).cache;
      const loaded = (name) => Object.keys(cache).some((k) => k.includes('/node_modules/' + name + '/'));
      await import(${JSON.stringify(`${REPO_ROOT}/src/overlay/module.ts`)});
      const before = { etcd3: loaded('etcd3'), grpc: loaded('@grpc/grpc-js') };
      const { registries } = await import(${JSON.stringify(`${REPO_ROOT}/src/registry/create.ts`)});
      const { defaultConfig } = await import(${JSON.stringify(`${REPO_ROOT}/src/config/defaults.ts`)});
      const { createLogger } = await import(${JSON.stringify(`${REPO_ROOT}/src/log.ts`)});
      const overlay = { ...defaultConfig().overlay, etcd: { ...defaultConfig().overlay.etcd, endpoints: ['http://127.0.0.1:9'] } };
      const registry = await registries.create(overlay, { log: createLogger({ level: 'silent' }), stateDir: '/nonexistent' });
      const after = { etcd3: loaded('etcd3'), grpc: loaded('@grpc/grpc-js'), name: registry.name, remote: registry.remote };
      await registry.close();
      console.log(JSON.stringify({ before, after }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, timeout: 150_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { before: Record<string, boolean>; after: Record<string, unknown> };
    assert.deepEqual(result.before, { etcd3: false, grpc: false });
    assert.deepEqual(result.after, { etcd3: true, grpc: true, name: 'etcd', remote: true });
  });
});
