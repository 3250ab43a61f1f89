/**
 * Static peers and etcd peers in one agent: both are programmed; a subnet claimed by both with
 * different hosts goes to the static peer (source precedence), the lease is refused and listed,
 * and nothing flaps, even when the etcd lease changes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { sleep, waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { flannelLeaseJson, leaseKey, PREFIX } from '../helpers/registry-flannel.js';

const STATIC_MAC = '02:00:00:00:00:50';

void describe('registry: static and etcd peers merged', () => {
  let vm: Netns;
  let etcd: EtcdServer | undefined;
  let agent: AgentHandle | undefined;
  const etcdctl = (...args: string[]): Promise<string> => vm.must('etcdctl', ['--endpoints', etcd?.endpoint ?? '', ...args]);
  const fdb = async (): Promise<string> => vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']);

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
    await agent.waitReady(30_000);
  });

  after(async () => {
    await agent?.cleanup();
    await etcd?.cleanup();
    await vm?.destroy();
  });

  void test('both sources are programmed; the contested lease is refused and the static peer kept', async () => {
    await waitFor('etcd peer programmed', async () => (await fdb()).includes('02:00:00:00:00:61 dst 192.168.100.61 self permanent'));
    assert.match(await fdb(), new RegExp(`${STATIC_MAC} dst 192.168.100.50 self permanent`));
    assert.doesNotMatch(await fdb(), /02:00:00:00:00:60/);
    const status = JSON.parse((await agent!.get('/status')).body) as Record<string, unknown>;
    const overlay = ((status.controllers ?? status) as Record<string, { refused: { source: string; key: string; subnet: string; reason: string; message: string }[] }>).overlay;
    assert.equal(overlay?.refused.length, 1);
    assert.equal(overlay?.refused[0]?.subnet, '10.234.50.0/24');
    assert.equal(overlay?.refused[0]?.source, 'etcd');
    assert.equal(overlay?.refused[0]?.key, leaseKey('10.234.50.0/24'));
    assert.equal(overlay?.refused[0]?.reason, 'subnet-claimed');
    assert.match(overlay?.refused[0]?.message ?? '', /claimed earlier by overlay\.peers\[0\]/);
  });

  void test('a changing etcd lease for the contested subnet does not flap the kernel', async () => {
    const monitor = vm.spawn('bridge', ['monitor', 'fdb']);
    let seen = '';
    monitor.stdout?.on('data', (c: Buffer) => (seen += c.toString()));
    await sleep(200);
    await etcdctl('put', leaseKey('10.234.50.0/24'), flannelLeaseJson('192.168.100.70', '02:00:00:00:00:70'));
    await etcdctl('put', leaseKey('10.234.52.0/24'), flannelLeaseJson('192.168.100.62', '02:00:00:00:00:62'));
    // The second write is programmed, so the first one has been seen by then.
    await waitFor('later lease programmed', async () => (await fdb()).includes('02:00:00:00:00:62'));
    await waitFor('the monitor saw it too', () => seen.includes('02:00:00:00:00:62'), 2000);
    monitor.kill();
    assert.match(await fdb(), new RegExp(`${STATIC_MAC} dst 192.168.100.50 self permanent`));
    assert.doesNotMatch(seen, /02:00:00:00:00:50|02:00:00:00:00:70/);
  });

  void test('SIGTERM stops the agent cleanly and leaves its lease for the next start (like flanneld)', async () => {
    const status = JSON.parse((await agent!.get('/status')).body) as Record<string, unknown>;
    const overlay = ((status.controllers ?? status) as Record<string, { sources: { etcd: { lease: { key: string } } } }>).overlay;
    const key = overlay?.sources.etcd.lease.key ?? '';
    assert.match(key, /^\/coreos\.com\/network\/subnets\/10\.234\.\d+\.0-24$/);
    const stopped = await agent!.stop('SIGTERM');
    assert.equal(stopped.code, 0);
    assert.match(await etcdctl('get', key, '--print-value-only'), /"PublicIP":"192.168.100.2"/);
  });
});
