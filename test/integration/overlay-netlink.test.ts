/** The netlink layer against the real kernel: overflow safety, error naming, event monitor recovery. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const PROBE = join(REPO_ROOT, 'test/integration/overlay-netlink-probe.ts');

void describe('netlink layer', () => {
  let ns: Netns;
  before(async () => {
    ns = await createNetns('ov');
  });
  after(async () => {
    await ns?.destroy();
  });

  const probe = async (mode: string): Promise<Record<string, unknown>> => {
    const r = await ns.run(process.execPath, ['--import', 'tsx', PROBE, mode]);
    assert.equal(r.code, 0, `probe ${mode} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  };

  void test('20000 failing writes: every error reported, no receive-buffer overflow, errors name the object', async () => {
    const r = await probe('errors');
    assert.equal(r.failed, 20_000);
    assert.match(String(r.message), /^route 10\.9\.9\.0\/24 via 10\.9\.9\.0 on nosuch0: E\w+$/);
    assert.equal(r.code, 'MNA_NETLINK_FAILED');
    const limits = r.limits as { budget: number; chunk: number };
    assert.ok(limits.budget > 0 && limits.chunk <= limits.budget);
  });

  void test('a peer that fails half-way is rolled back; the good peer beside it stays', async () => {
    await ns.sh('ip link add eth0 type veth peer name eth0p; ip addr add 192.168.0.81/24 dev eth0; ip link set eth0 up; ip link set eth0p up');
    const r = await probe('rollback');
    assert.deepEqual(r.failed, ['10.9.0.0/24']);
    assert.match(String((r.failures as string[])[0]), /^route 10\.9\.0\.0\/24 via 10\.234\.3\.0 on flannel\.1: E\w+$/);
    assert.deepEqual(r.neighbours, ['10.8.0.0']);
    assert.deepEqual(r.fdb, ['02:00:00:00:00:08']);
    assert.deepEqual(r.cache, { neighbours: 1, fdb: 1, routes: 1 });
    assert.match(await ns.ip('route', 'show', 'dev', 'flannel.1'), /^10\.8\.0\.0\/24 via 10\.8\.0\.0 onlink\s*$/);
  });

  void test('the event monitor reports link changes and comes back after being killed', async () => {
    const r = await probe('monitor');
    const seen = r.seen as string[];
    assert.deepEqual(seen.slice(0, 2), ['ready', 'link-new']);
    assert.ok(seen.includes('lost'), `seen: ${seen.join(',')}`);
    assert.equal(seen.filter((x) => x === 'ready').length, 2);
    assert.ok(seen.indexOf('link-del') > seen.lastIndexOf('ready'), 'events flow after the restart');
    assert.equal(r.restarts, 1);
  });

  void test('the event monitor ends quietly when the agent is gone and its stdout is a broken pipe', async () => {
    const r = await probe('orphan');
    assert.equal(r.aborted, false, 'no C++ terminate from inside the netlink callback');
    assert.equal(r.code, 0);
  });
});
