/**
 * An outage never looks like an empty registry. The real agent is restarted while its etcd is
 * stopped: routes, neighbours and FDB entries stay on the device the whole time (polled, and
 * every deletion notification watched), the agent is not ready until etcd answers and is ready
 * again soon after (the delay is measured and printed), and it keeps its etcd lease (same key,
 * same lease ID; no keyless lease left behind). After a reboot-like restart (device gone, etcd
 * still down) the peers come back from the set persisted in stateDir.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { sleep, waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { flannelLeaseJson, leaseKey, PREFIX } from '../helpers/registry-flannel.js';

const PEERS = [1, 2, 3].map((i) => ({ subnet: `10.234.${40 + i}.0/24`, ip: `192.168.100.${40 + i}`, mac: `02:00:00:00:00:4${i}` }));

/** Samples the device's entries every 50 ms inside the namespace: "routes neighbours fdb" per line. */
const COUNTER = `while :; do
r=$(ip route show dev flannel.1 | grep -c onlink); n=$(ip neigh show dev flannel.1 nud permanent | grep -c lladdr); f=$(bridge fdb show dev flannel.1 | grep -c ' dst ')
echo "$r $n $f"; sleep 0.05; done`;

/** Polls etcd's /health and the agent's /readyz every 20 ms; prints each change with its time. */
function readinessProbe(etcdEndpoint: string, statusUrl: string): string {
  return `let last = {};
const check = async (name, url, ok) => { try { const r = await fetch(url, { signal: AbortSignal.timeout(500) }); return ok(r) } catch { return false } };
setInterval(async () => {
  const now = Date.now();
  const etcd = await check('etcd', ${JSON.stringify(`${etcdEndpoint}/health`)}, (r) => r.ok);
  const agent = await check('agent', ${JSON.stringify(`${statusUrl}/readyz`)}, (r) => r.status === 200);
  for (const [k, v] of Object.entries({ etcd, agent })) if (last[k] !== v) { last[k] = v; console.log(k + ' ' + v + ' ' + now); }
}, 20);`;
}

void describe('registry: an etcd outage across a restart', () => {
  let vm: Netns;
  let etcd: EtcdServer;
  let dir: string;
  let agent: AgentHandle | undefined;
  const observers: ChildProcess[] = [];
  const etcdctl = (...args: string[]): Promise<string> => vm.must('etcdctl', ['--endpoints', etcd.endpoint, ...args]);
  const config = (): Record<string, unknown> => ({ overlay: { enabled: true, underlay: { interface: 'eth0' }, etcd: { endpoints: [etcd.endpoint], register: true }, resync: '30s' } });
  const overlay = async (): Promise<Record<string, unknown>> => (JSON.parse((await agent!.get('/status')).body) as { controllers: { overlay: Record<string, unknown> } }).controllers.overlay;
  const allProgrammed = async (): Promise<boolean> => {
    const fdb = await vm.must('bridge', ['fdb', 'show', 'dev', 'flannel.1']);
    const routes = await vm.ip('route', 'show', 'dev', 'flannel.1');
    return PEERS.every((p) => fdb.includes(`${p.mac} dst ${p.ip} self permanent`) && routes.includes(`${p.subnet} via`));
  };
  const ownLease = async (): Promise<{ key: string; lease: string }> => {
    const key = (((await overlay()).sources as Record<string, { lease: { key: string } }>).etcd?.lease.key) ?? '';
    const fields = await etcdctl('get', key, '-w', 'fields');
    return { key, lease: /"Lease" : (\d+)/.exec(fields)?.[1] ?? '' };
  };
  const watch = (cmd: string, args: string[]): { text: () => string } => {
    const child = vm.spawn(cmd, args);
    observers.push(child);
    let text = '';
    child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
    return { text: () => text };
  };

  before(async () => {
    vm = await createNetns('tovout');
    await vm.sh('ip link add eth0 type veth peer name eth0p && ip addr add 192.168.100.2/24 dev eth0 && ip link set eth0p up && ip link set eth0 up');
    etcd = await startEtcd({ ns: vm, host: '127.0.0.1' });
    await etcdctl('put', `${PREFIX}/config`, '{"Network":"10.234.0.0/16","Backend":{"Type":"vxlan"}}');
    for (const p of PEERS) {
      const id = /lease ([0-9a-f]+) granted/.exec(await etcdctl('lease', 'grant', '86400'))?.[1] ?? '';
      await etcdctl('put', leaseKey(p.subnet), flannelLeaseJson(p.ip, p.mac), '--lease', id);
    }
    dir = await mkdtemp(join(tmpdir(), 'mna-tovout-'));
    agent = await startAgent({ ns: vm, dir, config: config() });
    await agent.waitReady(90_000);
    await waitFor('peers programmed', allProgrammed, 20_000);
  });

  after(async () => {
    for (const o of observers) o.kill();
    await agent?.cleanup();
    await etcd?.cleanup();
    await vm?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  void test('restart with etcd stopped: nothing drops, not ready until etcd answers, the same etcd lease afterwards', async (t) => {
    const before = await ownLease();
    assert.match(before.lease, /^\d+$/);
    const counts = watch('sh', ['-c', COUNTER]);
    const deletions = watch('ip', ['monitor', 'route', 'neigh']);
    const fdbDeletions = watch('bridge', ['monitor', 'fdb']);
    await waitFor('the counter runs', () => counts.text().includes('\n'), 10_000);

    await etcd.stop();
    assert.equal((await agent!.stop('SIGTERM')).code, 0);
    agent = await startAgent({ ns: vm, dir, config: config() });
    await waitFor('restarted agent running', async () => (await overlay()).state === 'running', 90_000, 200);
    const held = await overlay();
    assert.deepEqual(held.holding, ['etcd'], `the etcd source has not listed, nothing is removed: ${JSON.stringify(held)}`);
    for (let i = 0; i < 3; i += 1) {
      const r: { status: number; body: string } = await agent.get('/readyz?verbose');
      assert.equal(r.status, 503, r.body);
      assert.match(r.body, /etcd/);
    }
    assert.ok(await allProgrammed(), 'entries in place while etcd is down');

    const probe = watch(process.execPath, ['-e', readinessProbe(etcd.endpoint, agent.statusUrl)]);
    await sleep(300);
    await etcd.start();
    await agent.waitReady(30_000);
    const times = (name: string): number => Number(new RegExp(`${name} true (\\d+)`).exec(probe.text())?.[1] ?? NaN);
    await waitFor('the probe saw both', () => Number.isFinite(times('agent')) && Number.isFinite(times('etcd')), 5000);
    t.diagnostic(`agent ready ${times('agent') - times('etcd')} ms after etcd answered (20 ms probe)`);

    const samples = counts.text().trim().split('\n').map((l) => l.split(' ').map(Number));
    assert.ok(samples.length >= 20, `only ${samples.length} samples`);
    const low = samples.find((s) => s.length !== 3 || s.some((v) => v < PEERS.length));
    assert.equal(low, undefined, `an entry dropped: ${JSON.stringify(low)}`);
    const deleted = `${deletions.text()}${fdbDeletions.text()}`.split('\n').filter((l) => l.startsWith('Deleted') && /flannel\.1|10\.234\./.test(l));
    assert.deepEqual(deleted, []);

    const afterRestart = await ownLease();
    assert.equal(afterRestart.key, before.key);
    assert.equal(afterRestart.lease, before.lease, 'the previous run\'s etcd lease carries the key again');
    const hex = BigInt(before.lease).toString(16);
    for (const line of (await etcdctl('lease', 'list')).split('\n').slice(1)) {
      const id = line.trim();
      if (id === '') continue;
      assert.match(await etcdctl('lease', 'timetolive', id, '--keys'), /attached keys\(\[.+\]\)/, `lease ${id} (ours: ${hex}) carries no key`);
    }
  });

  void test('a reboot while etcd is down: the device comes back with the peers persisted in stateDir', async () => {
    await stat(join(dir, 'state', 'peers.etcd.json'));
    await etcd.stop();
    assert.equal((await agent!.stop('SIGTERM')).code, 0);
    await vm.ip('link', 'del', 'flannel.1');
    agent = await startAgent({ ns: vm, dir, config: config() });
    await waitFor('peers back from stateDir while etcd is down', allProgrammed, 90_000, 200);
    assert.equal((await agent.get('/readyz')).status, 503);
    await etcd.start();
    await agent.waitReady(30_000);
    assert.ok(await allProgrammed());
  });
});
