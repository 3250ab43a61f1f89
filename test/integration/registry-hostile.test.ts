/**
 * Hostile leases in a real etcd against the real agent in a namespace: a lease of every class the
 * peer gate refuses is written, then an honest lease after them. The honest lease is programmed,
 * the honest peer's FDB entry is never touched, nothing hostile reaches the kernel (the VM's LAN
 * route and its own routes stay as they were), every refusal is listed, counted and logged once,
 * and once settled the agent makes no netlink write at all while it keeps resyncing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { sleep, waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { flannelLeaseJson, leaseKey, PREFIX } from '../helpers/registry-flannel.js';

const HONEST = { subnet: '10.234.50.0/24', ip: '192.168.100.60', mac: '02:00:00:00:00:60' };
const LATE = { subnet: '10.234.51.0/24', ip: '192.168.100.51', mac: '02:00:00:00:00:51' };
/** A static peer whose subnet the VM already routes elsewhere: only the kernel's tables tell. */
const STATIC = { subnet: '10.234.81.0/24', publicIP: '192.168.100.81', vtepMAC: '02:00:00:00:00:81' };

/** [key suffix, value, expected reason] */
const HOSTILE: [string, string, string][] = [
  ['128.0.0.0-1', flannelLeaseJson('192.168.100.90', '02:00:00:00:00:90'), 'outside-network'],
  ['192.168.100.0-24', flannelLeaseJson('192.168.100.91', '02:00:00:00:00:91'), 'outside-network'],
  ['10.99.1.0-24', flannelLeaseJson('192.168.100.92', '02:00:00:00:00:92'), 'outside-network'],
  ['10.234.60.0-25', flannelLeaseJson('192.168.100.93', '02:00:00:00:00:93'), 'subnet-length'],
  ['10.234.0.0-24', flannelLeaseJson('192.168.100.94', '02:00:00:00:00:94'), 'outside-subnet-range'],
  ['10.234.71.5-24', flannelLeaseJson('192.168.100.95', '02:00:00:00:00:95'), 'not-network-address'],
  ['10.234.61.0-24', flannelLeaseJson('192.168.100.96', HONEST.mac), 'mac-claimed'],
  ['10.234.62.0-24', flannelLeaseJson(HONEST.ip, '02:00:00:00:00:62'), 'public-ip-claimed'],
  ['10.234.63.0-24', flannelLeaseJson('192.168.100.97', '00:00:00:00:00:00'), 'mac-class'],
  ['10.234.64.0-24', flannelLeaseJson('192.168.100.98', 'ff:ff:ff:ff:ff:ff'), 'mac-class'],
  ['10.234.65.0-24', flannelLeaseJson('192.168.100.99', '01:00:5e:00:00:65'), 'mac-class'],
  ['10.234.66.0-24', flannelLeaseJson('127.0.0.1', '02:00:00:00:00:66'), 'public-ip-class'],
  ['10.234.67.0-24', flannelLeaseJson('169.254.1.1', '02:00:00:00:00:67'), 'public-ip-class'],
  ['10.234.68.0-24', flannelLeaseJson('224.0.0.68', '02:00:00:00:00:68'), 'public-ip-class'],
  ['10.234.69.0-24', flannelLeaseJson('0.0.0.69', '02:00:00:00:00:69'), 'public-ip-class'],
  ['10.234.70.0-24', flannelLeaseJson('192.168.100.2', '02:00:00:00:00:70'), 'public-ip-own'],
  ['10.234.72.0-24', '{"PublicIP": nonsense', 'malformed'],
  ['10.234.80.0-24', flannelLeaseJson('192.168.100.100', '02:00:00:00:00:80'), 'foreign-route'],
];

interface OverlayStatus {
  refused: { source: string; key: string; reason: string; message: string }[];
  refusedCount: number;
  peers: { desired: number; programmed: number };
}

void describe('registry: hostile leases never reach the kernel', () => {
  let vm: Netns;
  let etcd: EtcdServer | undefined;
  let agent: AgentHandle | undefined;
  let fdbEvents = '';
  const etcdctl = (...args: string[]): Promise<string> => vm.must('etcdctl', ['--endpoints', etcd?.endpoint ?? '', ...args]);
  const overlay = async (): Promise<OverlayStatus> => {
    const status = JSON.parse((await agent!.get('/status')).body) as { controllers: { overlay: OverlayStatus } };
    return status.controllers.overlay;
  };
  const metric = async (name: string): Promise<number> => {
    const text = (await agent!.get('/metrics')).body;
    return text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  };
  const routes = async (): Promise<string> => vm.ip('route', 'show', 'dev', 'flannel.1');
  const fdb = async (): Promise<string> => vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']);
  const programmed = async (p: { subnet: string; ip: string; mac: string }): Promise<boolean> =>
    (await routes()).includes(`${p.subnet} via ${p.subnet.split('/')[0] ?? ''} onlink`) &&
    (await fdb()).includes(`${p.mac} dst ${p.ip} self permanent`) &&
    (await vm.ip('neigh', 'show', 'dev', 'flannel.1')).includes(`${p.subnet.split('/')[0] ?? ''} lladdr ${p.mac} PERMANENT`);

  before(async () => {
    vm = await createNetns('tovgate');
    await vm.sh(`
ip link add eth0 type veth peer name eth0p
ip addr add 192.168.100.2/24 dev eth0
ip link set eth0p up && ip link set eth0 up
ip route add 10.234.80.0/24 via 192.168.100.1 dev eth0
ip route add 10.234.81.0/24 dev eth0
`);
    etcd = await startEtcd({ ns: vm, host: '127.0.0.1' });
    // SubnetMin/SubnetMax set: the gate holds leases to them (flannel's defaults only steer allocation).
    await etcdctl('put', `${PREFIX}/config`, '{"Network":"10.234.0.0/16","SubnetMin":"10.234.1.0","SubnetMax":"10.234.254.0","Backend":{"Type":"vxlan"}}');
    await etcdctl('put', leaseKey(HONEST.subnet), flannelLeaseJson(HONEST.ip, HONEST.mac));
    agent = await startAgent({
      ns: vm,
      config: {
        overlay: {
          enabled: true,
          subnet: '10.234.3.0/24',
          underlay: { interface: 'eth0' },
          peers: [STATIC],
          etcd: { endpoints: [etcd.endpoint], register: true },
          resync: '2s',
        },
      },
    });
    await agent.waitReady(90_000);
    await waitFor('the honest peer programmed', () => programmed(HONEST), 20_000);
    // Every FDB change from here on is recorded: the honest entry must never move.
    const monitor = vm.spawn('bridge', ['monitor', 'fdb']);
    monitor.stdout?.on('data', (c: Buffer) => (fdbEvents += c.toString()));
    await sleep(200);
  });

  after(async () => {
    await agent?.cleanup();
    await etcd?.cleanup();
    await vm?.destroy();
  });

  void test('every hostile lease is refused with its reason; an honest lease written after them is programmed', async () => {
    for (const [suffix, value] of HOSTILE) await etcdctl('put', `${PREFIX}/subnets/${suffix}`, value);
    await etcdctl('put', leaseKey(LATE.subnet), flannelLeaseJson(LATE.ip, LATE.mac));
    await waitFor('the late honest lease programmed', () => programmed(LATE), 20_000);
    const status = await waitFor('every refusal listed', async () => {
      const s = await overlay();
      return s.refusedCount === HOSTILE.length + 1 ? s : undefined;
    }, 20_000);
    for (const [suffix, , reason] of HOSTILE) {
      const r = status.refused.find((x) => x.key === `${PREFIX}/subnets/${suffix}`);
      assert.equal(r?.reason, reason, `${suffix}: ${JSON.stringify(r)}`);
      assert.equal(r?.source, 'etcd');
    }
    const mine = status.refused.find((x) => x.key === 'overlay.peers[0]');
    assert.equal(mine?.reason, 'foreign-route', 'static peers go through the gate at run time');
    assert.match(status.refused.find((x) => x.reason === 'mac-claimed')?.message ?? '', /claimed by \/coreos\.com\/network\/subnets\/10\.234\.50\.0-24/);
    assert.equal(status.peers.desired, 2);
    assert.equal(status.peers.programmed, 2);
    assert.equal(await metric('mesh_node_agent_overlay_peers_refused{'), HOSTILE.length + 1);
  });

  void test('nothing hostile is in the kernel; the VM keeps its own routes; the honest FDB entry was never touched', async () => {
    const r = (await routes()).trim().split('\n').map((l) => l.trim()).sort();
    assert.deepEqual(r, [`${HONEST.subnet} via 10.234.50.0 onlink`, `${LATE.subnet} via 10.234.51.0 onlink`]);
    const entries = (await fdb()).split('\n').filter((l) => l.includes(' dst '));
    assert.deepEqual(entries.map((l) => l.split(' ').slice(0, 3).join(' ')).sort(), [`${LATE.mac} dst ${LATE.ip}`, `${HONEST.mac} dst ${HONEST.ip}`].sort());
    assert.match(await vm.ip('route', 'show', '192.168.100.0/24'), /dev eth0 proto kernel/);
    assert.match(await vm.ip('route', 'show', '10.234.80.0/24'), /via 192\.168\.100\.1 dev eth0/);
    assert.match(await vm.ip('route', 'show', '10.234.81.0/24'), /dev eth0/);
    assert.equal((await vm.ip('route', 'show', '128.0.0.0/1')).trim(), '');
    assert.doesNotMatch(fdbEvents, new RegExp(HONEST.mac), `FDB events for the honest MAC:\n${fdbEvents}`);
  });

  void test('settled: no netlink write for 5 s of resyncs, and each refusal was logged once', async () => {
    const monitor = vm.spawn('ip', ['monitor', 'neigh', 'route']);
    let seen = '';
    monitor.stdout?.on('data', (c: Buffer) => (seen += c.toString()));
    await sleep(200);
    const writes = await metric('mesh_node_agent_overlay_netlink_writes_total');
    const resyncs = await metric('mesh_node_agent_overlay_reconciles_total{trigger="resync"}');
    // An observation window, not a timing assertion: anything written in it is a loop.
    await sleep(5000);
    monitor.kill();
    assert.ok((await metric('mesh_node_agent_overlay_reconciles_total{trigger="resync"}')) >= resyncs + 1, 'periodic resyncs ran in the window');
    assert.equal(await metric('mesh_node_agent_overlay_netlink_writes_total'), writes, 'no netlink write after settling');
    // The kernel's own IPv6 link-local route for flannel.1 (added when its DAD ends, which can fall
    // in this window) is not a write of the agent, which programs IPv4 only.
    assert.deepEqual(
      seen.split('\n').filter((l) => /flannel\.1|10\.234\./.test(l) && !l.includes('fe80::')),
      [],
    );
    const logs = agent!.logs();
    for (const [suffix] of HOSTILE) {
      const lines = logs.split('\n').filter((l) => l.includes('peer refused') && l.includes(`"${PREFIX}/subnets/${suffix}"`));
      assert.equal(lines.length, 1, `${suffix} logged ${lines.length} times`);
    }
    assert.doesNotMatch(logs, /drift repaired/);
  });
});
