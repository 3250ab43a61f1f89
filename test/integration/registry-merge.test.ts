/**
 * Static peers and etcd peers in one agent: both are programmed; a subnet claimed by both with
 * different hosts goes to the static peer (source precedence), the lease is refused and listed,
 * and nothing flaps, even when the etcd lease changes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { startMonitor } from '../helpers/kernel-monitor.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { flannelLeaseJson, leaseKey, PREFIX } from '../helpers/registry-flannel.js';

const STATIC_MAC = '02:00:00:00:00:50';

interface OverlayStatus {
  refused: { source: string; key: string; subnet: string; reason: string; message: string }[];
  sources: { etcd: { lease: { key: string } } };
}

void describe('registry: static and etcd peers merged', () => {
  let vm: Netns;
  let etcd: EtcdServer | undefined;
  let agent: AgentHandle | undefined;
  const etcdctl = (...args: string[]): Promise<string> => vm.must('etcdctl', ['--endpoints', etcd?.endpoint ?? '', ...args]);
  const fdb = async (): Promise<string> => vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']);
  const overlayStatus = async (): Promise<OverlayStatus> => (JSON.parse((await agent!.get('/status')).body) as { controllers: { overlay: OverlayStatus } }).controllers.overlay;

  before(async () => {
    vm = await createNetns('rg');
    await vm.sh('ip link add eth0 type veth peer name eth0p && ip addr add 192.168.100.2/24 dev eth0 && ip link set eth0p up && ip link set eth0 up');
    etcd = await startEtcd({ ns: vm, host: '127.0.0.1' });
    await etcdctl('put', `${PREFIX}/config`, '{"Network":"10.234.0.0/16","Backend":{"Type":"vxlan"}}');
    await etcdctl('put', leaseKey('10.234.50.0/24'), flannelLeaseJson('192.168.100.60', '02:00:00:00:00:60'));
    await etcdctl('put', leaseKey('10.234.51.0/24'), flannelLeaseJson('192.168.100.61', '02:00:00:00:00:61'));
    agent = await startAgent({
      ns: vm,
      config: {
        overlay: {
          enabled: true,
          underlay: { interface: 'eth0' },
          peers: [{ subnet: '10.234.50.0/24', publicIP: '192.168.100.50', vtepMAC: STATIC_MAC }],
          etcd: { endpoints: [etcd.endpoint], register: true },
          resync: '30s',
        },
      },
    });
    // A deadline, not a target: an agent from source boots in 20-30 s on a busy machine.
    await agent.waitReady(90_000);
  });

  after(async () => {
    await agent?.cleanup();
    await etcd?.cleanup();
    await vm?.destroy();
  });

  void test('both sources are programmed; the contested lease is refused and the static peer kept', async () => {
    await waitFor('etcd peer programmed', async () => (await fdb()).includes('02:00:00:00:00:61 dst 192.168.100.61 self permanent'), 20_000);
    assert.match(await fdb(), new RegExp(`${STATIC_MAC} dst 192.168.100.50 self permanent`));
    assert.doesNotMatch(await fdb(), /02:00:00:00:00:60/);
    const overlay = await overlayStatus();
    assert.equal(overlay.refused.length, 1);
    assert.equal(overlay.refused[0]?.subnet, '10.234.50.0/24');
    assert.equal(overlay.refused[0]?.source, 'etcd');
    assert.equal(overlay.refused[0]?.key, leaseKey('10.234.50.0/24'));
    assert.equal(overlay.refused[0]?.reason, 'subnet-claimed');
    assert.match(overlay.refused[0]?.message ?? '', /claimed earlier by overlay\.peers\[0\]/);
  });

  void test('a changing etcd lease for the contested subnet does not flap the kernel', async () => {
    // Listening before the lease changes (a marker FDB entry on eth0 was reported).
    const monitor = await startMonitor(vm, { tool: 'bridge', args: ['fdb'], dev: 'eth0' });
    try {
      await etcdctl('put', leaseKey('10.234.50.0/24'), flannelLeaseJson('192.168.100.70', '02:00:00:00:00:70'));
      await etcdctl('put', leaseKey('10.234.52.0/24'), flannelLeaseJson('192.168.100.62', '02:00:00:00:00:62'));
      // The second write is programmed, so the first one has been handled by then.
      await waitFor('later lease programmed', async () => (await fdb()).includes('02:00:00:00:00:62'), 20_000);
      // Everything the kernel reported up to here has been read.
      await monitor.barrier();
      assert.match(monitor.output, /02:00:00:00:00:62/, 'the monitor saw the programmed entry');
      assert.match(await fdb(), new RegExp(`${STATIC_MAC} dst 192.168.100.50 self permanent`));
      assert.doesNotMatch(monitor.output, /02:00:00:00:00:50|02:00:00:00:00:70/);
    } finally {
      await monitor.stop();
    }
  });

  void test('SIGTERM stops the agent cleanly and leaves its lease for the next start (like flanneld)', async () => {
    const key = (await overlayStatus()).sources.etcd.lease.key;
    assert.match(key, /^\/coreos\.com\/network\/subnets\/10\.234\.\d+\.0-24$/);
    const stopped = await agent!.stop('SIGTERM');
    assert.equal(stopped.code, 0);
    assert.match(await etcdctl('get', key, '--print-value-only'), /"PublicIP":"192.168.100.2"/);
  });
});
