/**
 * This VM's Node on a real kube-apiserver (one per file, in its own namespace): registered with the
 * RBAC docs/kubernetes.md gives (nothing more), podCIDR and annotations byte-equal to flanneld's,
 * the CIDR allocator's assignment taken, a free podCIDR chosen otherwise, another host's Node never
 * touched, the Node kept as it must be (annotations, public-ip-overwrite, re-created after a
 * delete), the API down at start, and `leave` deleting only our own Node.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultConfig } from '../../src/config/defaults.js';
import type { OverlayConfig } from '../../src/config/schema.js';
import { overlaySchema } from '../../src/overlay/config-schema.js';
import { kubernetesDefaults, kubernetesSchema, type KubernetesConfig } from '../../src/kube/config-schema.js';
import type { KubeClient } from '../../src/kube/client.js';
import { createKubeClient } from '../../src/kube/connect.js';
import { createLogger } from '../../src/log.js';
import { leaveNode } from '../../src/registry/kube/leave.js';
import { stringify } from 'yaml';
import { cliArgv } from '../helpers/agent-process.js';
import { run } from '../helpers/exec.js';
import { KubeRegistry } from '../../src/registry/kube/registry.js';
import { waitFor } from '../helpers/exec.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { NODES, nodeManifest, serviceAccountToken } from '../helpers/kube-fixtures.js';
import { FLANNEL, REGISTRY_RULES, createNetConf, deleteNode, vmRegistryRules, flannelAnnotations, flannelNodeManifest, getNode } from '../helpers/kube-flannel.js';

const log = createLogger({ level: 'silent' });
const FAST = { initialMs: 100, maxMs: 1000 };

function overlay(kube: Record<string, unknown>, extra: Record<string, unknown> = {}): OverlayConfig {
  const base = defaultConfig().overlay as Record<string, unknown>;
  return overlaySchema.parse({ ...base, enabled: true, ...extra, kubernetes: { ...(base.kubernetes as Record<string, unknown>), enabled: true, allocatorWait: '0s', ...kube } });
}

describe('kube registry: this VM\'s Node on a real API server', () => {
  let api: KubeApiServer;
  let dir: string;
  let kube: KubernetesConfig;
  let vmClient: KubeClient;
  const registries: KubeRegistry[] = [];

  const registry = async (name: string, over: OverlayConfig, stateDir = join(dir, name)): Promise<KubeRegistry> => {
    const r = await KubeRegistry.create({ overlay: over, kubernetes: kube, stateDir, log, client: vmClient, backoff: FAST, pollMs: 100 });
    registries.push(r);
    return r;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-kreg-'));
    api = await startKubeApiServer('tkcr');
    await createNetConf(api.admin);
    // The VM's identity: a ServiceAccount with exactly the documented rules, no more.
    const token = await serviceAccountToken(api.admin, 'mesh-vm', REGISTRY_RULES);
    await writeFile(join(dir, 'token'), token);
    kube = kubernetesSchema.parse({ ...kubernetesDefaults(), server: api.env.APISERVER_URL, caFile: api.env.KUBE_CA_FILE, tokenFile: join(dir, 'token') });
    vmClient = await createKubeClient(kube);
  });

  after(async () => {
    for (const r of registries) await r.close().catch(() => undefined);
    vmClient?.close();
    await api?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test('registers its Node: podCIDR = overlay.subnet, flannel annotations byte-equal to flanneld\'s, label, taint, no OS label', async () => {
    const r = await registry('vm-a', overlay({ nodeName: 'vm-a' }, { subnet: '10.244.30.0/24' }));
    assert.equal(await r.register({ publicIP: '192.168.0.81', vtepMAC: 'FE:3F:4A:8C:74:A4' }), '10.244.30.0/24');
    const node = await getNode(api.admin, 'vm-a');
    assert.ok(node !== undefined);
    const spec = node.spec as { podCIDR?: string; podCIDRs?: string[]; taints?: { key: string; effect: string; value?: string }[] };
    assert.equal(spec.podCIDR, '10.244.30.0/24');
    assert.deepEqual(spec.podCIDRs, ['10.244.30.0/24']);
    // What flanneld writes on its own Node, literally (less the kubelet's ttl annotation).
    const flanneld = Object.fromEntries(Object.entries(flannelAnnotations('192.168.0.81', 'fe:3f:4a:8c:74:a4')).filter(([k]) => k.startsWith(FLANNEL)));
    const ours = Object.fromEntries(Object.entries(node.metadata.annotations ?? {}).filter(([k]) => k.startsWith(FLANNEL)));
    assert.deepEqual(ours, flanneld);
    assert.equal(ours[`${FLANNEL}/backend-data`], '{"VNI":1,"VtepMAC":"fe:3f:4a:8c:74:a4"}');
    assert.match(node.metadata.annotations?.['mesh-node-agent.io/owner'] ?? '', /^mna-[0-9a-f]{24}$/);
    assert.deepEqual(node.metadata.labels, { 'mesh-node-agent.io/vm': 'true' });
    // Ours, beside the not-ready taint the API server's TaintNodesByCondition admission adds to a new Node.
    assert.deepEqual(spec.taints?.find((t) => t.key === 'mesh-node-agent.io/vm'), { key: 'mesh-node-agent.io/vm', value: 'true', effect: 'NoSchedule' });
    assert.equal((r.status().node as { writes: { create: number } }).writes.create, 1);
    // A restart with the same identity and facts writes nothing.
    const rv = node.metadata.resourceVersion;
    await r.close();
    const again = await registry('vm-a', overlay({ nodeName: 'vm-a' }, { subnet: '10.244.30.0/24' }));
    assert.equal(await again.register({ publicIP: '192.168.0.81', vtepMAC: 'fe:3f:4a:8c:74:a4' }), '10.244.30.0/24');
    assert.equal((await getNode(api.admin, 'vm-a'))?.metadata.resourceVersion, rv);
    await again.close();
  });

  test('without overlay.subnet: a free podCIDR chosen against every Node; the ConfigMap from the next namespace', async () => {
    // kube-system holds another network: reading it proves the fallback namespace was used.
    await createNetConf(api.admin, 'kube-system', '{"Network":"10.245.0.0/16","Backend":{"Type":"vxlan"}}');
    await api.admin.create(NODES, flannelNodeManifest('node-top', '10.245.255.0/24', '192.168.0.20', '5a:09:44:c7:a3:20'));
    await api.admin.create(NODES, flannelNodeManifest('node-next', '10.245.254.0/24', '192.168.0.21', '5a:09:44:c7:a3:21'));
    const r = await registry('vm-free', overlay({ nodeName: 'vm-free', configMap: { name: 'kube-flannel-cfg', namespaces: ['not-here', 'kube-system'] } }));
    const subnet = await r.register({ publicIP: '192.168.0.82', vtepMAC: '02:00:00:00:00:82' });
    assert.match(subnet, /^10\.245\.\d+\.0\/24$/);
    assert.ok(!['10.245.255.0/24', '10.245.254.0/24'].includes(subnet), subnet);
    assert.equal((r.status() as { networkFrom?: string }).networkFrom, 'ConfigMap kube-system/kube-flannel-cfg');
    assert.equal(((await getNode(api.admin, 'vm-free'))?.spec as { podCIDR?: string }).podCIDR, subnet);
    await r.close();
    for (const n of ['node-top', 'node-next', 'vm-free']) await deleteNode(api.admin, n);
  });

  test('waits for the cluster\'s CIDR allocator and takes its assignment', async () => {
    const r = await registry('vm-alloc', overlay({ nodeName: 'vm-alloc', allocatorWait: '60s' }));
    const registering = r.register({ publicIP: '192.168.0.83', vtepMAC: '02:00:00:00:00:83' });
    // Play kube-controller-manager's range allocator: the Node appears without podCIDR; assign one.
    const created = await waitFor('the Node created without podCIDR', () => getNode(api.admin, 'vm-alloc'), 20_000, 100);
    assert.equal((created.spec as { podCIDR?: string }).podCIDR, undefined);
    await api.admin.patch(`${NODES}/vm-alloc`, { spec: { podCIDR: '10.244.7.0/24', podCIDRs: ['10.244.7.0/24'] } });
    assert.equal(await registering, '10.244.7.0/24');
    await r.close();
    await deleteNode(api.admin, 'vm-alloc');
  });

  test('never takes over a Node another host owns (a kubelet\'s, or another VM\'s)', async () => {
    await api.admin.create(NODES, nodeManifest('worker-1', { 'kubernetes.io/os': 'linux' }, flannelAnnotations('192.168.0.30', '5a:09:44:c7:a3:30')));
    const before = await getNode(api.admin, 'worker-1');
    const r = await registry('vm-thief', overlay({ nodeName: 'worker-1' }, { subnet: '10.244.31.0/24' }));
    await assert.rejects(r.register({ publicIP: '192.168.0.84', vtepMAC: '02:00:00:00:00:84' }), /Node worker-1 exists and was not registered by mesh-node-agent/);
    assert.equal((await getNode(api.admin, 'worker-1'))?.metadata.resourceVersion, before?.metadata.resourceVersion);
    const first = await registry('vm-b1', overlay({ nodeName: 'vm-b' }, { subnet: '10.244.32.0/24' }));
    await first.register({ publicIP: '192.168.0.85', vtepMAC: '02:00:00:00:00:85' });
    const rv = (await getNode(api.admin, 'vm-b'))?.metadata.resourceVersion;
    // Another VM (another stateDir, so another identity) configured with the same name.
    const second = await registry('vm-b2', overlay({ nodeName: 'vm-b' }, { subnet: '10.244.33.0/24' }));
    await assert.rejects(second.register({ publicIP: '192.168.0.86', vtepMAC: '02:00:00:00:00:86' }), /registered by another mesh-node-agent host/);
    assert.equal((await getNode(api.admin, 'vm-b'))?.metadata.resourceVersion, rv);
    for (const x of [r, first, second]) await x.close();
  });

  test('keeps its Node: annotations put back, public-ip-overwrite advertised, a deleted Node re-created with its podCIDR', async () => {
    const r = await registry('vm-keep', overlay({ nodeName: 'vm-keep' }, { subnet: '10.244.34.0/24' }));
    await r.register({ publicIP: '192.168.0.87', vtepMAC: '02:00:00:00:00:87' });
    await r.start(() => undefined);
    const ann = async (key: string): Promise<string | undefined> => (await getNode(api.admin, 'vm-keep'))?.metadata.annotations?.[`${FLANNEL}/${key}`];

    await api.admin.patch(`${NODES}/vm-keep`, { metadata: { annotations: { [`${FLANNEL}/backend-data`]: null, [`${FLANNEL}/public-ip`]: '192.168.0.99' } } });
    await waitFor('annotations put back', async () => (await ann('backend-data')) === '{"VNI":1,"VtepMAC":"02:00:00:00:00:87"}' && (await ann('public-ip')) === '192.168.0.87', 10_000, 50);

    await api.admin.patch(`${NODES}/vm-keep`, { metadata: { annotations: { [`${FLANNEL}/public-ip-overwrite`]: '203.0.113.7' } } });
    await waitFor('overwrite advertised as public-ip', async () => (await ann('public-ip')) === '203.0.113.7', 10_000, 50);
    await api.admin.patch(`${NODES}/vm-keep`, { metadata: { annotations: { [`${FLANNEL}/public-ip-overwrite`]: '203.0.113.7 && reboot' } } });
    await waitFor('a bad overwrite ignored', async () => (await ann('public-ip')) === '192.168.0.87', 10_000, 50);

    const old = await getNode(api.admin, 'vm-keep');
    await api.admin.delete(`${NODES}/vm-keep`);
    const back = await waitFor('Node re-created', async () => {
      const n = await getNode(api.admin, 'vm-keep');
      return n !== undefined && n.metadata.uid !== old?.metadata.uid ? n : undefined;
    }, 10_000, 50);
    assert.equal((back.spec as { podCIDR?: string }).podCIDR, '10.244.34.0/24');
    assert.equal(back.metadata.annotations?.[`${FLANNEL}/backend-data`], '{"VNI":1,"VtepMAC":"02:00:00:00:00:87"}');
    assert.deepEqual(r.ready(), { ready: true });
    await r.close();
    await deleteNode(api.admin, 'vm-keep');
  });

  test('API unreachable at start: the podCIDR held before, registered once the API answers', async () => {
    const stateDir = join(dir, 'vm-outage');
    const first = await registry('vm-outage', overlay({ nodeName: 'vm-outage' }), stateDir);
    const subnet = await first.register({ publicIP: '192.168.0.88', vtepMAC: '02:00:00:00:00:88' });
    await first.close();
    await api.admin.delete(`${NODES}/vm-outage`); // gone while the VM was down
    api.bridge.cut();
    let r: KubeRegistry | undefined;
    try {
      r = await registry('vm-outage', overlay({ nodeName: 'vm-outage' }), stateDir);
      assert.equal(await r.register({ publicIP: '192.168.0.88', vtepMAC: '02:00:00:00:00:88' }), subnet);
      assert.equal(r.ready().ready, false);
    } finally {
      api.bridge.restore();
    }
    const back = await waitFor('registered after the outage', () => getNode(api.admin, 'vm-outage'), 20_000, 100);
    assert.equal((back.spec as { podCIDR?: string }).podCIDR, subnet);
    await r.close();
  });

  test('check-config validates the kubeconfig and names each missing permission (SelfSubjectAccessReview)', async () => {
    const check = async (name: string, kubernetes: Record<string, unknown>): Promise<{ code: number; stderr: string }> => {
      const path = join(dir, `${name}.yaml`);
      await writeFile(path, stringify({
        stateDir: join(dir, `${name}-state`),
        istio: { clusterEnv: join(dir, 'none.env'), sidecarEnv: join(dir, 'none.env') },
        identity: { enabled: false },
        kubernetes,
        overlay: { enabled: true, kubernetes: { enabled: true, nodeName: 'vm-check' } },
        dns: { serviceEntries: { kubernetes: true, namespaces: ['istio-system'] } },
      }));
      const [cmd = '', ...args] = cliArgv('check-config', '--config', path);
      return run(cmd, args);
    };
    // Allowed to list nodes, nothing else.
    const reader = await serviceAccountToken(api.admin, 'mesh-reader', [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
    await writeFile(join(dir, 'reader-token'), reader);
    const weak = await check('weak', { server: api.env.APISERVER_URL, caFile: api.env.KUBE_CA_FILE, tokenFile: join(dir, 'reader-token') });
    assert.equal(weak.code, 1, weak.stderr);
    const missing = weak.stderr.split('\n').filter((l) => l.startsWith('kubernetes: missing permission: '));
    assert.deepEqual(missing.map((l) => l.slice('kubernetes: missing permission: '.length)), [
      'create nodes (cluster-wide)',
      'patch nodes "vm-check" (cluster-wide)',
      'list serviceentries.networking.istio.io in namespace istio-system',
      'watch serviceentries.networking.istio.io in namespace istio-system',
      'get configmaps "kube-flannel-cfg" in namespace kube-flannel, or get configmaps "kube-flannel-cfg" in namespace kube-system (flannel\'s net-conf.json)',
    ]);
    assert.match(weak.stderr, /warning: kubernetes: no permission to delete nodes "vm-check" .* "mesh-node-agent leave" will fail/);
    // The documented rules for one VM (patch and delete on its own Node only), plus ServiceEntries.
    const full = await serviceAccountToken(api.admin, 'mesh-full', [...vmRegistryRules('vm-check'), { apiGroups: ['networking.istio.io'], resources: ['serviceentries'], verbs: ['list', 'watch'] }]);
    await writeFile(join(dir, 'full-token'), full);
    const ok = await check('full', { server: api.env.APISERVER_URL, caFile: api.env.KUBE_CA_FILE, tokenFile: join(dir, 'full-token') });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /the needed permissions are granted/);
    // A kubeconfig the agent refuses is named with the key at fault.
    await writeFile(join(dir, 'bad-kubeconfig'), stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: api.env.APISERVER_URL, 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: { tokenFile: join(dir, 'full-token') } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
    const bad = await check('bad', { kubeconfig: join(dir, 'bad-kubeconfig') });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bad-kubeconfig:\d+:\d+: .*insecure-skip-tls-verify/);
  });

  test('leave deletes only our own Node', async () => {
    const r = await registry('vm-leave', overlay({ nodeName: 'vm-leave' }, { subnet: '10.244.35.0/24' }));
    await r.register({ publicIP: '192.168.0.89', vtepMAC: '02:00:00:00:00:89' });
    await r.close();
    const owner = (r.status().node as { owner: string }).owner;
    await assert.rejects(leaveNode(vmClient, 'worker-1', owner), /not deleting: Node worker-1 exists and was not registered by mesh-node-agent/);
    await assert.rejects(leaveNode(vmClient, 'vm-leave', 'mna-someoneelse000000000000'), /registered by another mesh-node-agent host/);
    assert.ok((await getNode(api.admin, 'worker-1')) !== undefined);
    assert.deepEqual(await leaveNode(vmClient, 'vm-leave', owner), { kind: 'deleted', podCIDR: '10.244.35.0/24' });
    assert.equal(await getNode(api.admin, 'vm-leave'), undefined);
    assert.deepEqual(await leaveNode(vmClient, 'vm-leave', owner), { kind: 'absent' });
  });
});
