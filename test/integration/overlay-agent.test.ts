/**
 * The overlay end to end: the real agent in a "VM" namespace reaches a pod on a "node"
 * namespace over VXLAN and back; hand-made drift is repaired while it runs; a restart rewrites
 * nothing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor, sleep } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { NODE_IP, NODE_MAC, POD_IP, VM_MAC, VM_VTEP, buildTopology, overlayConfig, pings, seedStateDir } from './overlay-topology.js';

const REPAIR_MS = 2000;
/** Re-creating the device (and its IPv6 set-up) takes most of a second on a quiet machine; a deadline, not a target. */
const RECREATE_MS = 10_000;

void describe('overlay: VM agent and a flannel node', () => {
  let vm: Netns, node: Netns, pod: Netns;
  let dir: string;
  let agent: AgentHandle | undefined;

  before(async () => {
    vm = await createNetns('ov');
    node = await createNetns('ov');
    pod = await createNetns('ov');
    await buildTopology(vm, node, pod);
    dir = await mkdtemp(join(tmpdir(), 'mna-ov-'));
    await seedStateDir(dir);
    agent = await startAgent({ ns: vm, dir, config: overlayConfig() });
    await agent.waitReady();
  });

  after(async () => {
    await agent?.cleanup();
    for (const ns of [pod, node, vm]) await ns?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const route = async (): Promise<string> => (await vm.ip('route', 'show', '10.234.0.0/24')).trim();
  const neigh = async (): Promise<string> => (await vm.ip('neigh', 'show', '10.234.0.0', 'dev', 'flannel.1')).trim();
  const fdb = async (): Promise<string> => (await vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1'])).trim();
  const programmed = async (): Promise<boolean> =>
    (await route()).includes('via 10.234.0.0 dev flannel.1') && (await neigh()).includes(`lladdr ${NODE_MAC} PERMANENT`) && (await fdb()).includes(`${NODE_MAC} dst ${NODE_IP} self permanent`);

  void test('programs the device and the peer like the seed', async () => {
    const link = await vm.ip('-d', 'link', 'show', 'flannel.1');
    assert.match(link, new RegExp(`link/ether ${VM_MAC}`));
    assert.match(link, /vxlan id 1 local 192\.168\.0\.81 dev ens33 .*dstport 8472 nolearning/);
    assert.match(link, /mtu 1450/);
    assert.match(link, /state UNKNOWN|,UP/);
    assert.match(await vm.ip('addr', 'show', 'dev', 'flannel.1'), /inet 10\.234\.3\.0\/32/);
    assert.match(await vm.ip('route', 'show', '10.234.0.0/24', 'proto', 'boot'), /10\.234\.0\.0\/24 via 10\.234\.0\.0 dev flannel\.1 onlink/);
    assert.ok(await programmed());
    const status = JSON.parse((await agent!.get('/status')).body) as { controllers?: Record<string, unknown> } & Record<string, unknown>;
    const overlay = (status.controllers ?? status).overlay as { peers: { desired: number; programmed: number }; device: { name: string; mac: string } };
    assert.deepEqual(overlay.peers.desired, 1);
    assert.deepEqual(overlay.peers.programmed, 1);
    assert.equal(overlay.device.mac, VM_MAC);
  });

  void test('VM reaches the pod and the pod reaches the VM VTEP over VXLAN', async () => {
    assert.ok(await waitFor('ping VM → pod', () => pings(vm, POD_IP), 5000, 200));
    assert.ok(await waitFor('ping pod → VM VTEP', () => pings(pod, VM_VTEP), 5000, 200));
  });

  void test('a deleted route is restored without a restart', async () => {
    await vm.ip('route', 'del', '10.234.0.0/24', 'dev', 'flannel.1');
    assert.equal(await route(), '');
    await waitFor('route restored', async () => (await route()).includes('via 10.234.0.0 dev flannel.1'), REPAIR_MS, 20);
  });

  void test('a deleted neighbour is restored', async () => {
    await vm.ip('neigh', 'del', '10.234.0.0', 'dev', 'flannel.1');
    await waitFor('neighbour restored', async () => (await neigh()).includes(`lladdr ${NODE_MAC} PERMANENT`), REPAIR_MS, 20);
  });

  void test('a deleted FDB entry is restored', async () => {
    await vm.must('bridge', ['fdb', 'del', NODE_MAC, 'dev', 'flannel.1', 'dst', NODE_IP]);
    await waitFor('fdb restored', async () => (await fdb()).includes(`${NODE_MAC} dst ${NODE_IP} self permanent`), REPAIR_MS, 20);
  });

  void test('a tampered neighbour MAC is corrected', async () => {
    await vm.ip('neigh', 'replace', '10.234.0.0', 'lladdr', '02:00:00:00:00:99', 'dev', 'flannel.1', 'nud', 'permanent');
    await waitFor('neighbour corrected', async () => (await neigh()).includes(`lladdr ${NODE_MAC} PERMANENT`), REPAIR_MS, 20);
  });

  void test('a deleted device is re-created with its MAC, address and all peers', async () => {
    await vm.ip('link', 'del', 'flannel.1');
    await waitFor('device and peer restored', async () => {
      const link = await vm.run('ip', ['link', 'show', 'flannel.1']);
      return link.code === 0 && link.stdout.includes(VM_MAC) && (await programmed());
    }, RECREATE_MS, 20);
    assert.match(await vm.ip('addr', 'show', 'dev', 'flannel.1'), /inet 10\.234\.3\.0\/32/);
    assert.ok(await waitFor('ping after re-create', () => pings(vm, POD_IP), 5000, 200));
    const overlay = JSON.parse((await agent!.get('/status')).body) as Record<string, unknown>;
    const section = ((overlay.controllers ?? overlay) as Record<string, { driftRepairs: number }>).overlay;
    assert.ok((section?.driftRepairs ?? 0) > 0, 'drift repairs are counted');
  });

  void test('a stale entry on our device is removed, entries on other devices are left alone', async () => {
    await vm.ip('route', 'add', '10.234.9.0/24', 'via', '10.234.9.0', 'dev', 'flannel.1', 'onlink');
    await vm.ip('route', 'add', '10.99.0.0/24', 'dev', 'ens33');
    await waitFor('stale route removed', async () => (await vm.ip('route', 'show', '10.234.9.0/24')).trim() === '', REPAIR_MS, 20);
    assert.match(await vm.ip('route', 'show', '10.99.0.0/24'), /dev ens33/);
  });

  void test('a reload applies peer changes: a new MAC replaces the old FDB entry, a new peer is added', async () => {
    const newMac = '02:aa:bb:cc:dd:01';
    await agent!.writeConfig(
      overlayConfig({
        peers: [
          { subnet: '10.234.0.0/24', publicIP: NODE_IP, vtepMAC: newMac },
          { subnet: '10.234.1.0/24', publicIP: '192.168.0.73', vtepMAC: '7a:b4:48:5f:69:56' },
        ],
      }),
    );
    agent!.proc.kill('SIGHUP');
    await waitFor('peers updated', async () => {
      const f = await fdb();
      return f.includes(`${newMac} dst ${NODE_IP} self permanent`) && !f.includes(NODE_MAC) && f.includes('7a:b4:48:5f:69:56 dst 192.168.0.73') && (await neigh()).includes(`lladdr ${newMac} PERMANENT`);
    }, 10_000, 50);
    assert.match(await vm.ip('route', 'show', '10.234.1.0/24'), /via 10\.234\.1\.0 dev flannel\.1 onlink/);
    // Back to the seed's table: the extra peer goes away again, route first.
    await agent!.writeConfig(overlayConfig());
    agent!.proc.kill('SIGHUP');
    await waitFor('peers restored', async () => (await programmed()) && (await vm.ip('route', 'show', '10.234.1.0/24')).trim() === '' && !(await fdb()).includes(newMac), 10_000, 50);
    assert.ok(await waitFor('ping after reloads', () => pings(vm, POD_IP), 5000, 200));
  });

  void test('the periodic resync repairs drift no event points at (a route re-labelled by hand)', async () => {
    await agent!.writeConfig(overlayConfig({ resync: '1s' }));
    agent!.proc.kill('SIGHUP');
    await sleep(300);
    // Same prefix, gateway and device: the notification looks like ours; only a dump tells.
    await vm.ip('route', 'replace', '10.234.0.0/24', 'via', '10.234.0.0', 'dev', 'flannel.1', 'onlink', 'proto', 'static');
    assert.match(await vm.ip('route', 'show', '10.234.0.0/24'), /proto static/);
    await waitFor('route back to proto boot', async () => !(await vm.ip('route', 'show', '10.234.0.0/24')).includes('proto static'), 5000, 100);
    await agent!.writeConfig(overlayConfig());
    agent!.proc.kill('SIGHUP');
    await sleep(300);
  });

  void test('restarting the agent rewrites nothing (no delete+add flaps) and removes what went stale meanwhile', async () => {
    const stopped = await agent!.stop('SIGTERM');
    assert.equal(stopped.code, 0);
    assert.ok(await programmed(), 'entries stay while the agent is down');
    // Left behind by an old config while the agent was down (flannel issue #2554).
    await vm.ip('neigh', 'add', '10.234.77.0', 'lladdr', '02:77:00:00:00:77', 'dev', 'flannel.1', 'nud', 'permanent');
    await vm.must('bridge', ['fdb', 'add', '02:77:00:00:00:77', 'dev', 'flannel.1', 'dst', '192.168.0.77', 'self', 'permanent']);
    await vm.ip('route', 'add', '10.234.77.0/24', 'via', '10.234.77.0', 'dev', 'flannel.1', 'onlink');
    // The kernel's own IPv6 DAD on a freshly re-created device must not be mistaken for ours.
    await waitFor('IPv6 DAD settled', async () => (await vm.ip('-6', 'addr', 'show', 'dev', 'flannel.1', 'tentative')).trim() === '', 5000, 100);
    const monitor = vm.spawn('ip', ['monitor', 'link', 'address', 'neigh', 'route']);
    let seen = '';
    monitor.stdout?.on('data', (c: Buffer) => (seen += c.toString()));
    await sleep(200);
    agent = await startAgent({ ns: vm, dir, config: overlayConfig() });
    await agent.waitReady();
    const status = JSON.parse((await agent.get('/status')).body) as Record<string, unknown>;
    const overlay = ((status.controllers ?? status) as Record<string, { lastResync: { writes: number }; peers: { programmed: number } }>).overlay;
    assert.equal(overlay?.lastResync.writes, 3, 'only the three stale objects were written (deleted)');
    assert.equal(overlay?.peers.programmed, 1);
    assert.equal((await vm.ip('neigh', 'show', 'dev', 'flannel.1')).includes('10.234.77.0'), false);
    assert.equal((await fdb()).includes('02:77:00:00:00:77'), false);
    assert.equal((await vm.ip('route', 'show', '10.234.77.0/24')).trim(), '');
    await sleep(300);
    monitor.kill();
    await once(monitor, 'exit');
    const lines = seen.split('\n');
    const ours = lines.filter((l) => /flannel\.1|10\.234\.|5a:09:44:c7:a3:fb/.test(l) && !/77/.test(l));
    assert.deepEqual(ours, [], `kernel changes on restart:\n${ours.join('\n')}`);
    assert.equal(lines.filter((l) => l.startsWith('Deleted') && /77/.test(l)).length, 3, seen);
    assert.ok(await pings(vm, POD_IP));
  });
});
