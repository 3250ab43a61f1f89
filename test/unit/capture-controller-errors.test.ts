/**
 * The capture controller's error paths through its injected boundary, no root: iptables missing,
 * a busy xtables lock at start, a kernel that keeps the old rules, host lookups failing at start
 * and on the timer, passes serialised, stop during a pass.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CaptureController } from '../../src/capture/controller.js';
import type { Config } from '../../src/config/schema.js';
import { AgentError, ErrorCode } from '../../src/errors.js';
import { fakeCaptureBoundary, type FakeCaptureBoundary } from '../helpers/capture-fakes.js';
import { defaultsWith, metricValue, testContext, type TestContext } from '../helpers/controller-context.js';
import { settleUntil } from '../helpers/fake-clock.js';

function captureConfig(edit: (capture: Config['capture']) => void = () => undefined): Promise<Config> {
  return defaultsWith((c) => {
    c.capture.enabled = true;
    c.capture.serviceCIDRs = ['10.96.0.0/12'];
    edit(c.capture);
  });
}

interface Harness {
  boundary: FakeCaptureBoundary;
  ctx: TestContext;
  controller: CaptureController;
}

async function harness(prepare: (b: FakeCaptureBoundary) => void = () => undefined, config?: Config): Promise<Harness> {
  const boundary = fakeCaptureBoundary();
  prepare(boundary);
  const ctx = testContext();
  return { boundary, ctx, controller: new CaptureController(config ?? (await captureConfig()), ctx, boundary) };
}

/** Fires timers (retry or resync, whichever the controller armed) until `done`, at most `max`. */
async function fireUntil(h: Harness, done: () => boolean, what: string, max = 10): Promise<void> {
  for (let i = 0; i < max && !done(); i += 1) {
    await settleUntil(() => h.boundary.clock.pending().length > 0, 'a timer armed');
    h.boundary.clock.fireNext();
    const applies = h.boundary.tables.applied.length;
    await settleUntil(() => done() || h.boundary.tables.applied.length > applies || h.boundary.clock.pending().length > 0, 'the pass');
  }
  await settleUntil(done, what);
}

void describe('capture controller error paths (fake boundary)', () => {
  void test('no iptables: start fails with the reason and arms nothing', async () => {
    const h = await harness((b) => (b.missing = new AgentError(ErrorCode.IptablesFailed, 'iptables -V failed (127): not found; install the iptables package')));
    await assert.rejects(h.controller.start(), /install the iptables package/);
    assert.deepEqual(h.boundary.clock.pending(), []);
    assert.equal(h.boundary.tables.applied.length, 0);
    await h.controller.stop();
  });

  void test('a busy xtables lock at start: started but not ready with the reason, retried with backoff to ready', async () => {
    const h = await harness((b) => (b.tables.failApplies = 2));
    try {
      await h.controller.start();
      const readiness = h.controller.ready();
      assert.equal(readiness.ready, false);
      assert.match(readiness.reason ?? '', /xtables lock/);
      assert.equal(h.ctx.reported.length, 1, 'reported to the supervisor');
      assert.equal(h.controller.status().captureErrors, 1);
      assert.equal(typeof h.controller.status().nextRetry, 'string');
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_errors_total'), 1);
      // The retry comes long before the 30 s resync, and backs off on a second failure.
      const first = h.boundary.clock.fireNext();
      assert.ok(first >= 800 && first <= 1200, `first retry after ${first} ms`);
      await settleUntil(() => h.ctx.reported.length === 2, 'the first retry failing');
      const second = h.boundary.clock.fireNext();
      assert.ok(second >= 1600 && second <= 2400, `second retry after ${second} ms`);
      await settleUntil(() => h.controller.ready().ready, 'ready after the second retry');
      assert.ok(h.boundary.tables.ruleCount(4) > 0);
      assert.equal(h.boundary.tables.applied.length, 3);
      assert.equal(h.controller.status().driftRepairs, 0, 'a first install is not a drift repair');
      assert.equal(h.controller.status().nextRetry, undefined);
      assert.deepEqual(h.boundary.clock.pending(), [30_000 - first - second], 'only the resync is left');
    } finally {
      await h.controller.stop();
    }
  });

  void test('a reload whose apply fails rejects to its caller, and its rules are retried', async () => {
    const h = await harness();
    try {
      await h.controller.start();
      h.boundary.tables.failApplies = 1;
      await assert.rejects(h.controller.reload(await captureConfig((c) => (c.outboundPort = 15101))), /xtables lock/);
      assert.deepEqual(h.ctx.reported, [], 'the reload caller has the error; nothing reported twice');
      assert.equal(h.controller.ready().ready, false);
      h.boundary.tables.failApplies = 1;
      h.boundary.clock.fireNext();
      await settleUntil(() => h.ctx.reported.length === 1, 'the failed retry reported (nobody awaits it)');
      await fireUntil(h, () => h.controller.ready().ready, 'ready after the next retry');
      assert.match(JSON.stringify(h.boundary.tables.installed[4]), /--to-ports 15101/);
    } finally {
      await h.controller.stop();
    }
  });

  void test('a kernel that keeps the old rules: MNA_IPTABLES_FAILED, not ready, until a later pass verifies', async () => {
    const h = await harness((b) => (b.tables.ignoreWrites = true));
    try {
      await h.controller.start();
      assert.equal(h.controller.ready().ready, false);
      assert.match(h.controller.ready().reason ?? '', /installed rules differ from the built ones after apply: ipv4 nat\/ISTIO_INBOUND: missing/);
      const reported = h.ctx.reported[0];
      assert.ok(AgentError.is(reported) && reported.code === ErrorCode.IptablesFailed);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_verified'), 0);
      h.boundary.tables.ignoreWrites = false;
      await fireUntil(h, () => h.controller.ready().ready, 'ready once the kernel takes the rules');
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_verified'), 1);
    } finally {
      await h.controller.stop();
    }
  });

  void test('the proxy user not created yet at start: nothing applied, not ready naming the key; applied once it exists', async () => {
    const h = await harness((b) => b.host.users.clear());
    try {
      await h.controller.start();
      assert.equal(h.boundary.tables.applied.length, 0);
      assert.match(h.controller.ready().reason ?? '', /capture\.proxyUser: user "istio-proxy"/);
      h.boundary.host.users.set('istio-proxy', { uid: 1337, gid: 1337 });
      await fireUntil(h, () => h.controller.ready().ready, 'ready once the user exists');
      assert.match(JSON.stringify(h.boundary.tables.installed[4]), /--uid-owner 1337/);
    } finally {
      await h.controller.stop();
    }
  });

  void test('a host lookup failing on the timer keeps the last good rules and reports the error', async () => {
    const h = await harness();
    try {
      await h.controller.start();
      const good = structuredClone(h.boundary.tables.installed);
      h.boundary.host.users.clear();
      h.boundary.tables.tamper(4);
      const lookups = h.boundary.host.lookups;
      h.boundary.clock.fireNext();
      await settleUntil(() => h.controller.status().driftRepairs === 1, 'the repair with the last build');
      assert.ok(h.boundary.host.lookups > lookups, 'the pass looked the user up again');
      assert.deepEqual(h.boundary.tables.installed, good, 'repaired to the last good rules');
      assert.equal(h.controller.ready().ready, true);
      const s = h.controller.status();
      assert.equal(s.captureErrors, 1);
      assert.match((s.lastCaptureError as { message: string }).message, /capture\.proxyUser/);
    } finally {
      await h.controller.stop();
    }
  });

  void test('passes never overlap: a reload during a slow resync waits, and the reload wins', async () => {
    const h = await harness();
    try {
      await h.controller.start();
      const release = h.boundary.tables.hold();
      h.boundary.clock.fireNext();
      await settleUntil(() => h.boundary.tables.active === 1, 'the resync pass in iptables-restore');
      const reload = h.controller.reload(await captureConfig((c) => (c.outboundPort = 15101)));
      // Let the reload get as far as it can while the resync is held.
      for (let i = 0; i < 50; i += 1) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(h.boundary.tables.applied.length, 2, 'the reload has not reached iptables yet');
      release();
      await reload;
      assert.equal(h.boundary.tables.maxActive, 1);
      assert.match(JSON.stringify(h.boundary.tables.installed[4]), /--to-ports 15101/);
    } finally {
      await h.controller.stop();
    }
  });

  void test('stop during a pass waits for it, then cleans up', async () => {
    const h = await harness();
    await h.controller.start();
    const release = h.boundary.tables.hold();
    h.boundary.clock.fireNext();
    await settleUntil(() => h.boundary.tables.active === 1, 'the resync pass in iptables-restore');
    let stopped = false;
    const stopping = h.controller.stop().then(() => (stopped = true));
    for (let i = 0; i < 50; i += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'stop waits for the running pass');
    assert.equal(h.boundary.tables.cleanups, 0);
    release();
    await stopping;
    assert.equal(h.boundary.tables.cleanups, 1);
    assert.equal(h.boundary.tables.maxActive, 1);
    assert.equal(h.boundary.tables.ruleCount(4), 0);
    assert.deepEqual(h.boundary.clock.pending(), []);
  });
});
