/**
 * The agent with thousands of peers survives the worst burst the kernel can throw at it (the
 * device deleted with every neighbour and FDB entry on it) and puts everything back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const N = 5000;

function peer(i: number): { subnet: string; publicIP: string; vtepMAC: string } {
  const hex = (b: number): string => b.toString(16).padStart(2, '0');
  return { subnet: `10.${(i >> 8) & 255}.${i & 255}.0/24`, publicIP: `172.16.${(i >> 8) & 255}.${i & 255}`, vtepMAC: `02:00:00:00:${hex((i >> 8) & 255)}:${hex(i & 255)}` };
}

void describe('overlay at scale', () => {
  let vm: Netns;
  let agent: AgentHandle | undefined;

  before(async () => {
    vm = await createNetns('ov');
    await vm.sh('ip link add eth0 type veth peer name eth0p; ip addr add 192.168.0.81/24 dev eth0; ip link set eth0 up; ip link set eth0p up');
    const peers = Array.from({ length: N }, (_, i) => peer(i + 1));
    agent = await startAgent({ ns: vm, config: { log: { level: 'warn' }, overlay: { enabled: true, network: '10.0.0.0/8', subnet: '10.255.255.0/24', underlay: { interface: 'eth0' }, peers } } });
    await agent.waitReady(60_000);
  });

  after(async () => {
    await agent?.cleanup();
    await vm?.destroy();
  });

  const counts = async (): Promise<[number, number, number]> => {
    const lines = (text: string): number => text.split('\n').filter((l) => l.trim() !== '').length;
    const routes = lines(await vm.ip('route', 'show', 'dev', 'flannel.1'));
    const neigh = lines(await vm.ip('neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent'));
    const fdb = lines(await vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']));
    return [routes, neigh, fdb];
  };

  void test(`${N} peers programmed`, async () => {
    assert.deepEqual(await counts(), [N, N, N]);
  });

  void test('deleting the device (a burst of thousands of notifications) is survived and repaired', async () => {
    await vm.ip('link', 'del', 'flannel.1');
    await waitFor('device and all peers back', async () => {
      if (agent!.proc.exitCode !== null || agent!.proc.signalCode !== null) throw new Error(`agent died: ${agent!.logs().slice(-2000)}`);
      const link = await vm.run('ip', ['link', 'show', 'flannel.1']);
      return link.code === 0 && (await counts()).every((c) => c === N);
    }, 30_000, 250);
    assert.equal(agent!.proc.exitCode, null, 'the agent is still running');
    const status = JSON.parse((await agent!.get('/status')).body) as { controllers: { overlay: { peers: { programmed: number }; eventMonitor: { restarts: number } } } };
    assert.equal(status.controllers.overlay.peers.programmed, N);
  });
});
