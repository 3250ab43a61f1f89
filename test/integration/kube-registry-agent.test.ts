/**
 * The Kubernetes registry end to end: a real kube-apiserver, two flannel nodes whose devices are
 * made with the seed's commands and whose Nodes are annotated as flanneld annotates them, and the
 * real agent on a VM with overlay.kubernetes. The agent registers its Node (podCIDR, annotations
 * byte-equal to flanneld's) and programs both nodes; the test, playing flanneld, programs the
 * nodes from the VM's Node, and traffic flows both ways. Then: hostile Nodes never reach the
 * kernel, an annotation change re-programs, a deleted Node is withdrawn, an API server restart
 * loses no peer and the watch resumes, a compacted resourceVersion (410) relists, and
 * `mesh-node-agent leave` deletes the VM's Node.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliArgv, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { startNsEntry, type NsEntry } from '../helpers/kube-bridge.js';
import { NODES, serviceAccountToken } from '../helpers/kube-fixtures.js';
import { FLANNEL, createNetConf, vmRegistryRules, flannelAnnotations, flannelNodeManifest, getNode } from '../helpers/kube-flannel.js';
import { connect, createNetns, type Netns } from '../helpers/netns.js';

const VM_IP = '192.168.91.81';
interface FlannelHost {
  name: string;
  ip: string;
  subnet: string;
  mac: string;
  podIP: string;
  ns?: Netns;
  pod?: Netns;
}
const HOSTS: FlannelHost[] = [
  { name: 'kube-node-1', ip: '192.168.91.71', subnet: '10.244.1.0/24', mac: 'f6:cb:f7:55:bc:cd', podIP: '10.244.1.6' },
  { name: 'kube-node-2', ip: '192.168.91.72', subnet: '10.244.2.0/24', mac: '5a:09:44:c7:a3:fb', podIP: '10.244.2.62' },
];
const vtep = (subnet: string): string => subnet.split('/')[0] ?? '';
const gw = (subnet: string): string => vtep(subnet).replace(/\.0$/, '.1');

interface Status {
  controllers?: { overlay?: { refused?: { key: string; reason: string }[]; sources?: { kubernetes?: { relists?: number; connected?: boolean; node?: { podCIDR?: string } } } } };
}

void describe('kube registry: the agent joins flannel\'s kube subnet manager', () => {
  let api: KubeApiServer;
  let lan: Netns, vm: Netns;
  let entry: NsEntry;
  let agent: AgentHandle;
  let dir: string;
  let vmSubnet = '';
  let vmMAC = '';
  const spaces: Netns[] = [];

  const routed = async (ns: Netns, subnet: string): Promise<boolean> => (await ns.ip('route', 'show', subnet)).includes(`via ${vtep(subnet)} dev flannel.1 onlink`);
  const pings = async (from: Netns, to: string): Promise<boolean> => (await from.run('ping', ['-c', '1', '-W', '1', to])).code === 0;
  const status = async (): Promise<Status> => JSON.parse((await agent.get('/status')).body) as Status;

  /** What flanneld does on a node when the VM's Node appears: neighbour, FDB, route (flannel.md §2). */
  const playFlanneld = async (host: FlannelHost): Promise<void> => {
    const node = await getNode(api.admin, 'vm-1');
    assert.ok(node !== undefined);
    const a = node.metadata.annotations ?? {};
    assert.equal(a[`${FLANNEL}/kube-subnet-manager`], 'true');
    const mac = (JSON.parse(a[`${FLANNEL}/backend-data`] ?? '{}') as { VtepMAC: string }).VtepMAC;
    const podCIDR = (node.spec as { podCIDR: string }).podCIDR;
    await host.ns?.sh([
      `ip neigh replace ${vtep(podCIDR)} dev flannel.1 lladdr ${mac} nud permanent`,
      `bridge fdb replace ${mac} dev flannel.1 dst ${a[`${FLANNEL}/public-ip`]} self permanent`,
      `ip route replace ${podCIDR} via ${vtep(podCIDR)} dev flannel.1 onlink`,
    ].join('\n'));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-kagent-'));
    api = await startKubeApiServer('tkca');
    await createNetConf(api.admin);
    // Exactly the rules docs/kubernetes.md gives one VM: patch and delete on its own Node only.
    const token = await serviceAccountToken(api.admin, 'mesh-vm', vmRegistryRules('vm-1'));
    await writeFile(join(dir, 'token'), token);

    lan = await createNetns('kal');
    spaces.push(lan);
    await lan.sh('ip link add br0 type bridge && ip link set br0 up');
    const attach = async (ns: Netns, ip: string): Promise<void> => {
      const { b } = await connect({ ns, ifname: 'eth0', address: `${ip}/24` }, { ns: lan });
      await lan.ip('link', 'set', b, 'master', 'br0');
    };
    vm = await createNetns('kavm');
    spaces.push(vm);
    await attach(vm, VM_IP);
    for (const host of HOSTS) {
      const ns = await createNetns('kan');
      const pod = await createNetns('kap');
      spaces.push(ns, pod);
      host.ns = ns;
      host.pod = pod;
      await attach(ns, host.ip);
      await ns.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      // The seed's device commands, with the MAC flanneld persisted.
      await ns.sh([
        `ip link add flannel.1 address ${host.mac} type vxlan id 1 local ${host.ip} dev eth0 dstport 8472 nolearning`,
        `ip address add ${vtep(host.subnet)}/32 dev flannel.1`,
        'ip link set flannel.1 up',
        'ip link add cni0 type bridge',
        `ip address add ${gw(host.subnet)}/24 dev cni0`,
        'ip link set cni0 up',
      ].join('\n'));
      const ends = await connect({ ns: pod, address: `${host.podIP}/24`, ifname: 'eth0' }, { ns });
      await ns.ip('link', 'set', ends.b, 'master', 'cni0');
      await pod.ip('route', 'add', 'default', 'via', gw(host.subnet));
      await api.admin.create(NODES, flannelNodeManifest(host.name, host.subnet, host.ip, host.mac));
    }

    entry = await startNsEntry(vm, join(api.dir, 'bridge.sock'), 6443);
    agent = await startAgent({
      ns: vm,
      config: {
        kubernetes: { server: entry.url, caFile: api.env.KUBE_CA_FILE, tokenFile: join(dir, 'token') },
        overlay: { enabled: true, underlay: { interface: 'eth0' }, kubernetes: { enabled: true, nodeName: 'vm-1', allocatorWait: '0s' }, resync: '30s' },
      },
    });
    await agent.waitReady(90_000);
  });

  after(async () => {
    await agent?.cleanup();
    entry?.close();
    await api?.cleanup();
    for (const ns of spaces.reverse()) await ns.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  void test('registers its Node: podCIDR inside Network, flannel annotations byte-equal to flanneld\'s', async () => {
    const node = await getNode(api.admin, 'vm-1');
    assert.ok(node !== undefined);
    vmSubnet = (node.spec as { podCIDR: string }).podCIDR;
    assert.match(vmSubnet, /^10\.244\.\d+\.0\/24$/);
    vmMAC = /link\/ether ([0-9a-f:]+)/.exec(await vm.ip('link', 'show', 'flannel.1'))?.[1] ?? '';
    const expected = Object.fromEntries(Object.entries(flannelAnnotations(VM_IP, vmMAC)).filter(([k]) => k.startsWith(FLANNEL)));
    const ours = Object.fromEntries(Object.entries(node.metadata.annotations ?? {}).filter(([k]) => k.startsWith(FLANNEL)));
    assert.deepEqual(ours, expected);
    assert.match(await vm.ip('addr', 'show', 'dev', 'flannel.1'), new RegExp(`inet ${vtep(vmSubnet).replace(/\./g, '\\.')}/32`));
    assert.equal(node.metadata.labels?.['kubernetes.io/os'], undefined);
  });

  void test('programs both nodes; with the nodes programmed from the VM\'s Node, traffic flows both ways', async () => {
    for (const host of HOSTS) await waitFor(`route to ${host.name}`, () => routed(vm, host.subnet), 10_000, 50);
    const fdb = await vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']);
    for (const host of HOSTS) assert.match(fdb, new RegExp(`${host.mac} dst ${host.ip} self permanent`));
    const metrics = (await agent.get('/metrics')).body;
    assert.match(metrics, /mesh_node_agent_overlay_kubernetes_peers 2/);
    assert.match(metrics, /mesh_node_agent_overlay_kubernetes_connected 1/);
    assert.match(metrics, /mesh_node_agent_overlay_kubernetes_node_writes_total\{kind="create"\} 1/);
    for (const host of HOSTS) await playFlanneld(host);
    for (const host of HOSTS) {
      assert.ok(await waitFor(`VM → pod ${host.podIP}`, () => pings(vm, host.podIP), 10_000, 200));
      assert.ok(await waitFor(`pod ${host.podIP} → VM`, () => pings(host.pod as Netns, vtep(vmSubnet)), 10_000, 200));
    }
  });

  void test('hostile Nodes are refused and never reach the kernel; the honest ones stay', async () => {
    const evil = [
      flannelNodeManifest('evil-lan', '192.168.91.0/24', '192.168.91.90', '02:00:00:00:91:90'),
      flannelNodeManifest('evil-own-ip', '10.244.9.0/24', VM_IP, '02:00:00:00:91:91'),
      flannelNodeManifest('evil-mac', '10.244.10.0/24', '192.168.91.92', HOSTS[0]?.mac ?? ''),
      flannelNodeManifest('evil-own-subnet', vmSubnet, '192.168.91.93', '02:00:00:00:91:93'),
    ];
    for (const n of evil) await api.admin.create(NODES, n);
    const unreadable = flannelNodeManifest('evil-data', '10.244.11.0/24', '192.168.91.94', 'x') as { metadata: { annotations: Record<string, string> } };
    unreadable.metadata.annotations[`${FLANNEL}/backend-data`] = '{"VtepMAC":"02:00:00:00:91:94"; ip link del eth0}';
    await api.admin.create(NODES, unreadable);
    const reasons = await waitFor('all five refused', async () => {
      const refused = (await status()).controllers?.overlay?.refused ?? [];
      const byKey = Object.fromEntries(refused.map((r) => [r.key, r.reason]));
      return Object.keys(byKey).filter((k) => k.startsWith('evil-')).length === 5 ? byKey : undefined;
    }, 10_000, 100);
    assert.deepEqual(reasons, { 'evil-lan': 'outside-network', 'evil-own-ip': 'public-ip-own', 'evil-mac': 'mac-claimed', 'evil-own-subnet': 'own-subnet', 'evil-data': 'malformed' });
    const routes = await vm.ip('route', 'show', 'dev', 'flannel.1');
    for (const bad of ['10.244.9.0', '10.244.10.0', '10.244.11.0']) assert.doesNotMatch(routes, new RegExp(bad.replace(/\./g, '\\.')));
    assert.doesNotMatch(await vm.ip('route', 'show', '192.168.91.0/24'), /flannel/);
    assert.match(await vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']), new RegExp(`${HOSTS[0]?.mac} dst ${HOSTS[0]?.ip} self permanent`));
    for (const n of ['evil-lan', 'evil-own-ip', 'evil-mac', 'evil-own-subnet', 'evil-data']) await api.admin.delete(`${NODES}/${n}`);
  });

  void test('an annotation change re-programs the node (a new VTEP MAC)', async () => {
    const host = HOSTS[0] as FlannelHost;
    const mac = 'f6:cb:f7:55:bc:ee';
    // A new MAC flushes the node's own neighbours (the kernel does, even permanent ones): flanneld re-programs.
    await host.ns?.ip('link', 'set', 'flannel.1', 'address', mac);
    await playFlanneld(host);
    await api.admin.patch(`${NODES}/${host.name}`, { metadata: { annotations: { [`${FLANNEL}/backend-data`]: `{"VNI":1,"VtepMAC":"${mac}"}` } } });
    await waitFor('neighbour and FDB follow the new MAC', async () => {
      const neigh = await vm.ip('neigh', 'show', vtep(host.subnet), 'dev', 'flannel.1');
      const fdb = await vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']);
      return neigh.includes(mac) && fdb.includes(`${mac} dst ${host.ip}`);
    }, 10_000, 50);
    assert.ok(await waitFor('traffic on the new MAC', () => pings(vm, host.podIP), 10_000, 200));
    host.mac = mac;
  });

  void test('a deleted Node is withdrawn', async () => {
    const host = HOSTS[1] as FlannelHost;
    await api.admin.delete(`${NODES}/${host.name}`);
    await waitFor('route and FDB gone', async () => !(await routed(vm, host.subnet)) && !(await vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1'])).includes(host.mac), 10_000, 50);
    assert.ok(await routed(vm, HOSTS[0]?.subnet ?? ''), 'the other node stays');
  });

  void test('an API server restart loses no peer, and the watch resumes', async () => {
    const host = HOSTS[0] as FlannelHost;
    const monitor = vm.spawn('ip', ['monitor', 'route', 'neigh']);
    let seen = '';
    monitor.stdout?.on('data', (c: Buffer) => (seen += c.toString()));
    try {
      await api.stop();
      await waitFor('not ready while the API is down', async () => (await agent.get('/readyz')).status === 503, 30_000, 100);
      assert.ok(await routed(vm, host.subnet), 'route kept while the API is down');
      assert.ok(await pings(vm, host.podIP), 'traffic still flows');
      await api.start();
      await agent.waitReady(60_000);
      // A change after the restart arrives through the resumed watch.
      const back = HOSTS[1] as FlannelHost;
      await api.admin.create(NODES, flannelNodeManifest(back.name, back.subnet, back.ip, back.mac));
      await waitFor('a Node created after the restart is programmed', () => routed(vm, back.subnet), 10_000, 50);
      assert.ok(await waitFor('traffic to it', () => pings(vm, back.podIP), 10_000, 200));
    } finally {
      monitor.kill();
    }
    assert.doesNotMatch(seen, new RegExp(`Deleted ${host.subnet.replace(/\./g, '\\.')}`), 'the route was never removed');
  });

  void test('a compacted resourceVersion (410 Gone) relists: changes missed while cut off are applied', async () => {
    const relists = (await status()).controllers?.overlay?.sources?.kubernetes?.relists ?? 0;
    const gone = HOSTS[1] as FlannelHost;
    const fresh = { name: 'kube-node-3', ip: '192.168.91.73', subnet: '10.244.3.0/24', mac: '7a:b4:48:5f:69:56' };
    entry.cut();
    try {
      await api.admin.delete(`${NODES}/${gone.name}`);
      await api.admin.create(NODES, flannelNodeManifest(fresh.name, fresh.subnet, fresh.ip, fresh.mac));
      // Compact etcd and restart the API server: no revision the agent holds survives anywhere.
      await api.compact(await api.etcdRevision());
      await api.stop();
      await api.start();
      assert.ok(await routed(vm, gone.subnet), 'nothing changes while cut off');
    } finally {
      await entry.restore();
    }
    await waitFor('relisted: the deleted Node withdrawn, the new one programmed', async () => !(await routed(vm, gone.subnet)) && (await routed(vm, fresh.subnet)), 30_000, 100);
    const after = (await status()).controllers?.overlay?.sources?.kubernetes?.relists ?? 0;
    assert.ok(after > relists, `relists ${relists} → ${after}`);
    await agent.waitReady(30_000);
  });

  void test('mesh-node-agent leave: refused while the agent runs, then deletes only the VM\'s Node', async () => {
    const leave = (): Promise<{ code: number; stdout: string; stderr: string }> => {
      const [cmd = '', ...args] = cliArgv('leave', '--config', agent.configPath);
      return vm.run(cmd, args);
    };
    const running = await leave();
    assert.equal(running.code, 1);
    assert.match(running.stderr, /the agent is running .* stop it first/);
    assert.ok((await getNode(api.admin, 'vm-1')) !== undefined);
    await agent.stop();
    const left = await leave();
    assert.equal(left.code, 0, left.stderr);
    assert.match(left.stdout, new RegExp(`deleted Node vm-1 \\(podCIDR ${vmSubnet.replace(/\./g, '\\.')}\\)`));
    assert.equal(await getNode(api.admin, 'vm-1'), undefined);
    assert.ok((await getNode(api.admin, 'kube-node-1')) !== undefined);
  });
});
