/**
 * An entry the kernel keeps refusing is retried with backoff, not on every event. The refusal is
 * real: the VM's flannel.1 was made with `maxaddress 2`, so the kernel answers the third peer's
 * FDB entry with ENOSPC. Drift events keep coming (a route deleted by hand, repaired, ten times)
 * and the refused peer is tried no more often than the backoff allows; once there is room (a
 * reload drops a peer), it is programmed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { controllerStatus } from '../helpers/status-client.js';
import type { OverlayDetails } from '../../src/status/status-document.js';
import { VM_IP, VM_MAC, seedStateDir } from './overlay-topology.js';

const A = { subnet: '10.234.0.0/24', publicIP: '192.168.0.72', vtepMAC: '5a:09:44:c7:a3:fb' };
const B = { subnet: '10.234.1.0/24', publicIP: '192.168.0.73', vtepMAC: '7a:b4:48:5f:69:56' };
const C = { subnet: '10.234.2.0/24', publicIP: '192.168.0.71', vtepMAC: 'f6:cb:f7:55:bc:cd' };

void describe('overlay: the kernel refuses an entry', () => {
  let vm: Netns;
  let dir: string;
  let agent: AgentHandle | undefined;
  let startedAt = 0;
  const config = (peers: (typeof A)[]): Record<string, unknown> => ({
    overlay: { enabled: true, network: '10.234.0.0/16', subnet: '10.234.3.0/24', underlay: { interface: 'ens33' }, peers, resync: '30s' },
  });
  const overlay = (): Promise<OverlayDetails> => controllerStatus(agent!, 'overlay');
  const attemptsOfC = async (): Promise<number> => (await overlay()).retrying.find((r) => r.entry.startsWith(`peer|${C.subnet}|`))?.attempts ?? 0;
  const eventPasses = async (): Promise<number> => Number(/mesh_node_agent_overlay_reconciles_total\{trigger="event"\} (\d+)/.exec((await agent!.get('/metrics')).body)?.[1] ?? 0);
  const fdb = async (): Promise<string> => vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']);
  const routeOf = async (p: typeof A): Promise<string> => (await vm.ip('route', 'show', p.subnet)).trim();

  before(async () => {
    vm = await createNetns('tovretry');
    await vm.sh(`
ip link add ens33 type veth peer name ens33p
ip addr add ${VM_IP}/24 dev ens33
ip link set ens33p up && ip link set ens33 up
ip link add flannel.1 address ${VM_MAC} type vxlan id 1 local ${VM_IP} dev ens33 dstport 8472 nolearning maxaddress 2
`);
    dir = await mkdtemp(join(tmpdir(), 'mna-tovretry-'));
    await seedStateDir(dir);
    startedAt = Date.now();
    agent = await startAgent({ ns: vm, dir, config: config([A, B, C]) });
    await agent.waitReady(90_000);
  });

  after(async () => {
    await agent?.cleanup();
    await vm?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  void test('the refused peer is rolled back and listed; the others are programmed', async () => {
    const status = await waitFor('C held back', async () => ((await attemptsOfC()) > 0 ? overlay() : undefined), 20_000);
    assert.deepEqual(status.peers.failed, [C.subnet]);
    assert.equal(status.peers.programmed, 2);
    assert.match(status.retrying[0]?.lastError ?? '', /ENOSPC/);
    // The page's peer list: each peer in address order, programmed or why not.
    assert.deepEqual(status.peers.list.map((p) => [p.subnet, p.programmed]), [[A.subnet, true], [B.subnet, true], [C.subnet, false]]);
    assert.match(status.peers.list.find((p) => p.subnet === C.subnet)?.reason ?? '', /^kernel refused \(\d+ attempts\): .*ENOSPC/);
    const entries = await fdb();
    assert.match(entries, new RegExp(`${A.vtepMAC} dst ${A.publicIP}`));
    assert.match(entries, new RegExp(`${B.vtepMAC} dst ${B.publicIP}`));
    assert.doesNotMatch(entries, new RegExp(C.vtepMAC));
    assert.equal(await routeOf(C), '', 'the refused peer left nothing behind');
    assert.equal((await vm.ip('neigh', 'show', '10.234.2.0', 'dev', 'flannel.1')).trim(), '');
  });

  void test('ten drift repairs do not retry it ten times: only when its backoff expires', async () => {
    const passesBefore = await eventPasses();
    for (let i = 0; i < 10; i += 1) {
      await vm.ip('route', 'del', A.subnet, 'dev', 'flannel.1');
      await waitFor(`route of A repaired (${i})`, async () => (await routeOf(A)).includes('dev flannel.1'), 10_000, 20);
    }
    const passes = (await eventPasses()) - passesBefore;
    const attempts = await attemptsOfC();
    // Delays of 1, 2, 4, ... s since the agent started: no more attempts than fit in the elapsed time.
    const elapsedS = (Date.now() - startedAt) / 1000;
    const allowed = 2 + Math.floor(Math.log2(elapsedS + 1));
    assert.ok(passes >= 10, `event passes: ${passes}`);
    assert.ok(attempts <= allowed, `${attempts} attempts in ${elapsedS.toFixed(1)} s (backoff allows ${allowed})`);
    assert.ok(attempts < passes, `${attempts} attempts for ${passes} event passes`);
    assert.doesNotMatch(await fdb(), new RegExp(C.vtepMAC));
  });

  void test('with room again (a reload drops a peer) the held peer is programmed', async () => {
    await agent!.writeConfig(config([A, C]));
    agent!.proc.kill('SIGHUP');
    await waitFor('C programmed', async () => (await fdb()).includes(`${C.vtepMAC} dst ${C.publicIP}`) && (await routeOf(C)).includes('via 10.234.2.0'), 20_000);
    const status = await waitFor('nothing retrying', async () => {
      const s = await overlay();
      return s.retrying.length === 0 && s.peers.programmed === 2 ? s : undefined;
    }, 10_000);
    assert.deepEqual(status.peers.failed, []);
    assert.doesNotMatch(await fdb(), new RegExp(B.vtepMAC));
  });
});
