/**
 * The registry end to end: a real etcd on a LAN namespace, two VMs running the real agent with
 * overlay.etcd (no subnet configured, started at once), and a "flannel node" whose lease a helper
 * writes in flannel's format and whose kernel a flanneld stand-in programs from the registry.
 * Everyone programs everyone; VTEPs ping each other; an agent cut off from etcd keeps its routes;
 * a lease deleted by hand disappears everywhere.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { connect, createNetns, type Netns } from '../helpers/netns.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { flannelLeaseJson, leaseKey, PREFIX } from '../helpers/registry-flannel.js';
import { controllerStatus } from '../helpers/status-client.js';

const ETCD_IP = '192.168.90.1';
const VM_IPS = ['192.168.90.11', '192.168.90.12'];
const NODE_IP = '192.168.90.20';
const NODE_MAC = '5a:09:44:c7:a3:20';
const NODE_SUBNET = '10.234.20.0/24';
const NODE_VTEP = '10.234.20.0';
const REMOVAL_MS = 2000;

void describe('registry: two agents and a flannel node over a real etcd', () => {
  let lan: Netns, node: Netns;
  const vms: Netns[] = [];
  const agents: AgentHandle[] = [];
  let etcd: EtcdServer | undefined;
  let config: { overlay: Record<string, unknown> } = { overlay: {} };

  const etcdctl = (...args: string[]): Promise<string> => lan.must('etcdctl', ['--endpoints', etcd?.endpoint ?? '', ...args]);
  const vtepOf = async (ns: Netns): Promise<string> => {
    const m = /inet (10\.234\.\d+\.0)\/32/.exec(await ns.ip('addr', 'show', 'dev', 'flannel.1'));
    assert.ok(m?.[1] !== undefined, 'flannel.1 has its VTEP address');
    return m[1];
  };
  const routed = async (ns: Netns, vtep: string): Promise<boolean> => (await ns.ip('route', 'show', `${vtep}/24`)).includes(`via ${vtep} dev flannel.1 onlink`);
  const pings = async (from: Netns, to: string): Promise<boolean> => (await from.run('ping', ['-c', '1', '-W', '1', to])).code === 0;

  before(async () => {
    lan = await createNetns('rg');
    node = await createNetns('rg');
    for (let i = 0; i < 2; i += 1) vms.push(await createNetns('rg'));
    await lan.sh('ip link add br0 type bridge && ip link set br0 up');
    await lan.ip('addr', 'add', `${ETCD_IP}/24`, 'dev', 'br0');
    const hosts: [Netns, string][] = [[node, NODE_IP], ...vms.map((vm, i): [Netns, string] => [vm, VM_IPS[i] ?? ''])];
    for (const [ns, ip] of hosts) {
      const { b } = await connect({ ns, ifname: 'eth0', address: `${ip}/24` }, { ns: lan });
      await lan.ip('link', 'set', b, 'master', 'br0');
    }
    etcd = await startEtcd({ ns: lan, host: ETCD_IP });
    await etcdctl('put', `${PREFIX}/config`, '{"Network":"10.234.0.0/16","Backend":{"Type":"vxlan"}}');

    // The flannel node: its device as flanneld creates it, its lease as flanneld writes it, and a
    // flanneld stand-in programming its kernel from the registry.
    await node.sh(`
ip link add flannel.1 address ${NODE_MAC} type vxlan id 1 local ${NODE_IP} dev eth0 dstport 8472 nolearning
ip address add ${NODE_VTEP}/32 dev flannel.1
ip link set flannel.1 up
`);
    const grant = await etcdctl('lease', 'grant', '86400');
    const leaseId = /lease ([0-9a-f]+) granted/.exec(grant)?.[1] ?? '';
    await etcdctl('put', leaseKey(NODE_SUBNET), flannelLeaseJson(NODE_IP, NODE_MAC), '--lease', leaseId);
    node.spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/helpers/flanneld-sim.ts'), etcd.endpoint, PREFIX, NODE_SUBNET], { cwd: REPO_ROOT });

    // Two agents started at once, no subnet configured: they race for leases.
    config = { overlay: { enabled: true, underlay: { interface: 'eth0' }, etcd: { endpoints: [etcd.endpoint], register: true }, resync: '30s' } };
    agents.push(...(await Promise.all(vms.map((ns) => startAgent({ ns, config })))));
    // Two agents boot at once (each compiling its sources and its event monitor): generous on a busy machine.
    await Promise.all(agents.map((a) => a.waitReady(90_000)));
  });

  after(async () => {
    for (const a of agents) await a.cleanup();
    await etcd?.cleanup();
    for (const ns of [...vms, node, lan]) await ns?.destroy();
  });

  void test('each agent holds its own lease in flannel format; the race gave different subnets', async () => {
    const listing = await etcdctl('get', '--prefix', `${PREFIX}/subnets/`);
    const lines = listing.trim().split('\n');
    const leases = new Map<string, string>();
    for (let i = 0; i + 1 < lines.length; i += 2) leases.set(lines[i] ?? '', lines[i + 1] ?? '');
    assert.equal(leases.size, 3, listing);
    const vteps = await Promise.all(vms.map(vtepOf));
    assert.notEqual(vteps[0], vteps[1]);
    for (const [i, vm] of vms.entries()) {
      const mac = /link\/ether ([0-9a-f:]+)/.exec(await vm.ip('link', 'show', 'flannel.1'))?.[1] ?? '';
      assert.equal(leases.get(leaseKey(`${vteps[i] ?? ''}/24`)), flannelLeaseJson(VM_IPS[i] ?? '', mac));
    }
  });

  void test('everyone programs everyone, and every VTEP pings every other', async () => {
    const vteps = await Promise.all(vms.map(vtepOf));
    const all: [Netns, string][] = [[node, NODE_VTEP], [vms[0] as Netns, vteps[0] ?? ''], [vms[1] as Netns, vteps[1] ?? '']];
    for (const [from, own] of all) {
      for (const [, to] of all) {
        if (to === own) continue;
        await waitFor(`route ${own} → ${to}`, () => routed(from, to), 10_000, 100);
        await waitFor(`ping ${own} → ${to}`, () => pings(from, to), 10_000, 200);
      }
    }
    const fdb = await vms[0]?.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']);
    assert.match(fdb ?? '', new RegExp(`${NODE_MAC} dst ${NODE_IP} self permanent`));
  });

  void test('a reload keeps the lease and the flannel node never drops the route', async () => {
    const vm = vms[1] as Netns;
    const agent = agents[1] as AgentHandle;
    const vtep = await vtepOf(vm);
    const before = await etcdctl('get', leaseKey(`${vtep}/24`), '--print-value-only');
    const monitor = node.spawn('ip', ['monitor', 'route']);
    let seen = '';
    monitor.stdout?.on('data', (c: Buffer) => (seen += c.toString()));
    const reloads = async (): Promise<number> => Number(/mesh_node_agent_config_reloads_total\{result="applied"\} (\d+)/.exec((await agent.get('/metrics')).body)?.[1] ?? 0);
    const count = await reloads();
    await agent.writeConfig({ overlay: { ...config.overlay, resync: '20s' } });
    agent.proc.kill('SIGHUP');
    await waitFor('reload applied', async () => (await reloads()) > count, 10_000, 100);
    await agent.waitReady(10_000);
    assert.equal(await vtepOf(vm), vtep);
    assert.equal(await etcdctl('get', leaseKey(`${vtep}/24`), '--print-value-only'), before);
    assert.ok(await routed(node, vtep));
    // The reloaded registry holds the lease again (a keeper keeps it alive).
    const overlay = await controllerStatus(agent, 'overlay');
    const lease = overlay.sources.etcd?.lease as { leased: boolean; subnet: string } | undefined;
    assert.equal(lease?.leased, true);
    assert.equal(lease?.subnet, `${vtep}/24`);
    monitor.kill();
    assert.doesNotMatch(seen, new RegExp(`Deleted ${vtep.replace(/\./g, '\\.')}/24`));
  });

  void test('an agent cut off from etcd keeps its routes, reports not ready, and resyncs on return', async () => {
    const vm = vms[0] as Netns;
    const agent = agents[0] as AgentHandle;
    const peerVtep = await vtepOf(vms[1] as Netns);
    await vm.ip('route', 'add', 'prohibit', `${ETCD_IP}/32`);
    try {
      await waitFor('not ready without etcd', async () => (await agent.get('/readyz')).status === 503, 30_000, 250);
      const verbose = (await agent.get('/readyz?verbose')).body;
      assert.match(verbose, /etcd/);
      assert.ok(await routed(vm, NODE_VTEP), 'node route kept');
      assert.ok(await routed(vm, peerVtep), 'peer route kept');
      assert.ok(await pings(vm, NODE_VTEP), 'traffic still flows');
    } finally {
      await vm.ip('route', 'del', 'prohibit', `${ETCD_IP}/32`);
    }
    await agent.waitReady(30_000);
    assert.ok(await routed(vm, NODE_VTEP));
  });

  void test('deleting a lease by hand removes that peer everywhere within 2 s', async () => {
    await etcdctl('del', leaseKey(NODE_SUBNET));
    for (const vm of vms) await waitFor('node route removed', async () => !(await routed(vm, NODE_VTEP)), REMOVAL_MS, 20);
    for (const vm of vms) {
      assert.doesNotMatch(await vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']), new RegExp(NODE_MAC));
      assert.doesNotMatch(await vm.ip('neigh', 'show', 'dev', 'flannel.1'), new RegExp(NODE_VTEP.replace(/\./g, '\\.')));
    }
    // The agents still reach each other.
    assert.ok(await pings(vms[0] as Netns, await vtepOf(vms[1] as Netns)));
  });
});
