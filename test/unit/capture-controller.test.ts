/**
 * The capture controller through its injected boundary (fake tables, host facts and clock), no
 * root: start, reload, drift repair on the resync timer, and stop with and without cleanup.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildCapture } from '../../src/capture/build.js';
import { CaptureController } from '../../src/capture/controller.js';
import { mergePasses, retryOf } from '../../src/capture/pass.js';
import type { Config } from '../../src/config/schema.js';
import { fakeCaptureBoundary, type FakeCaptureBoundary } from '../helpers/capture-fakes.js';
import { defaultsWith, metricValue, testContext, type TestContext } from '../helpers/controller-context.js';
import { settleUntil } from '../helpers/fake-clock.js';

function captureConfig(edit: (capture: Config['capture']) => void = () => undefined): Promise<Config> {
  return defaultsWith((c) => {
    c.capture.enabled = true;
    c.capture.serviceCIDRs = ['10.96.0.0/12'];
    c.capture.inboundPorts = '*';
    edit(c.capture);
  });
}

interface Harness {
  boundary: FakeCaptureBoundary;
  ctx: TestContext;
  controller: CaptureController;
}

async function started(config?: Config): Promise<Harness> {
  const boundary = fakeCaptureBoundary();
  const ctx = testContext();
  const controller = new CaptureController(config ?? (await captureConfig()), ctx, boundary);
  await controller.start();
  return { boundary, ctx, controller };
}

function status(h: Harness): Record<string, unknown> {
  return h.controller.status();
}

void describe('capture controller (fake boundary)', () => {
  void test('start installs the built rules, verifies them and is ready', async () => {
    const h = await started();
    try {
      assert.equal(h.boundary.tables.applied.length, 1);
      assert.ok(h.boundary.tables.ruleCount(4) > 0);
      assert.match(JSON.stringify(h.boundary.tables.installed[4]), /--uid-owner 1337/);
      assert.match(JSON.stringify(h.boundary.tables.installed[4]), /--gid-owner 1500/);
      assert.deepEqual(h.controller.ready(), { ready: true });
      const s = status(h);
      assert.equal(s.backend, 'nft');
      assert.equal(s.verified, true);
      assert.deepEqual(s.rulesApplied, { ipv4: h.boundary.tables.ruleCount(4), ipv6: 0 });
      assert.deepEqual(s.proxy, { user: 'istio-proxy', uid: 1337, gid: 1337 });
      assert.equal(s.lastApply, new Date(h.boundary.clock.now()).toISOString());
      assert.equal(s.driftRepairs, 0);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_verified'), 1);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_rules', { family: 'ipv4' }), h.boundary.tables.ruleCount(4));
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_restore_transactions_total', { family: 'ipv4', table: 'nat' }), 1);
      assert.deepEqual(h.ctx.reported, []);
    } finally {
      await h.controller.stop();
    }
  });

  void test('a resync with the rules in place runs no transaction', async () => {
    const h = await started();
    try {
      const before = status(h);
      assert.equal(h.boundary.clock.fireNext(), 30_000, 'resync every capture.resync');
      await settleUntil(() => h.boundary.tables.applied.length === 2, 'the resync pass');
      await settleUntil(() => h.boundary.clock.pending().length > 0, 'the next resync armed');
      const after = status(h);
      assert.equal(after.driftRepairs, 0);
      assert.equal(after.lastApply, before.lastApply, 'nothing applied');
      assert.notEqual(after.lastVerify, before.lastVerify, 'but verified again');
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_restore_transactions_total', { family: 'ipv4', table: 'nat' }), 1);
    } finally {
      await h.controller.stop();
    }
  });

  void test('drift is found on the resync timer, rewritten and counted', async () => {
    const h = await started();
    try {
      const wanted = structuredClone(h.boundary.tables.installed);
      h.boundary.tables.tamper(4);
      h.boundary.clock.fireNext();
      await settleUntil(() => status(h).driftRepairs === 1, 'the drift repair');
      assert.deepEqual(h.boundary.tables.installed, wanted);
      assert.deepEqual(status(h).lastDrift, ['nat/ISTIO_OUTPUT: rules differ']);
      assert.equal(h.controller.ready().ready, true);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_drift_repairs_total'), 1);
    } finally {
      await h.controller.stop();
    }
  });

  void test('reload applies a changed config; a proxy user that cannot be resolved keeps the running rules', async () => {
    const h = await started();
    try {
      const original = structuredClone(h.boundary.tables.installed);
      const bad = await captureConfig((c) => (c.proxyUser = 'envoy'));
      await assert.rejects(h.controller.reload(bad), /capture\.proxyUser: user "envoy"/);
      assert.deepEqual(h.boundary.tables.installed, original, 'rules untouched');
      assert.equal(h.boundary.tables.applied.length, 1, 'nothing applied');
      assert.deepEqual(status(h).proxy, { user: 'istio-proxy', uid: 1337, gid: 1337 }, 'old config still in force');
      assert.equal(h.controller.ready().ready, true);

      h.boundary.host.users.set('envoy', { uid: 1400, gid: 1401 });
      await h.controller.reload(await captureConfig((c) => {
        c.proxyUser = 'envoy';
        c.outboundPort = 15101;
      }));
      const installed = JSON.stringify(h.boundary.tables.installed[4]);
      assert.match(installed, /--uid-owner 1400/);
      assert.match(installed, /--to-ports 15101/);
      assert.doesNotMatch(installed, /--uid-owner 1337/);
      assert.deepEqual(status(h).proxy, { user: 'envoy', uid: 1400, gid: 1401 });
    } finally {
      await h.controller.stop();
    }
  });

  void test('reload to a shorter resync period re-arms the timer with it', async () => {
    const h = await started();
    try {
      await h.controller.reload(await captureConfig((c) => (c.resync = 5000)));
      assert.deepEqual(h.boundary.clock.pending(), [5000]);
    } finally {
      await h.controller.stop();
    }
  });

  void test('stop removes the rules when cleanupOnStop, and leaves no timer behind', async () => {
    const h = await started();
    await h.controller.stop();
    assert.equal(h.boundary.tables.cleanups, 1);
    assert.equal(h.boundary.tables.ruleCount(4), 0);
    assert.deepEqual(h.boundary.clock.pending(), []);
    assert.equal(h.controller.ready().ready, false);
    assert.deepEqual(status(h).rulesApplied, { ipv4: 0, ipv6: 0 });
    assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_capture_verified'), 0);
  });

  void test('stop without cleanupOnStop leaves the rules installed', async () => {
    const h = await started(await captureConfig((c) => (c.cleanupOnStop = false)));
    await h.controller.stop();
    assert.equal(h.boundary.tables.cleanups, 0);
    assert.ok(h.boundary.tables.ruleCount(4) > 0);
    assert.deepEqual(h.boundary.clock.pending(), []);
  });

  void test('DNS capture redirects the resolv.conf nameservers and shows them in /status', async () => {
    const config = await captureConfig((c) => (c.dns = true));
    config.dns.enabled = true;
    const h = await started(config);
    try {
      assert.match(JSON.stringify(h.boundary.tables.installed[4]), /-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 10\.0\.0\.2\/32 -j REDIRECT/);
      assert.deepEqual(status(h).dns, { resolvConf: '/etc/resolv.conf', nameservers: ['10.0.0.2'], skipped: [] });
    } finally {
      await h.controller.stop();
    }
  });
});

void describe('capture passes (pure)', () => {
  void test('merged passes keep the strongest reason and the newest reload build; a retry rebuilds', async () => {
    const boundary = fakeCaptureBoundary();
    const built = await buildCapture(await captureConfig(), boundary.host);
    assert.deepEqual(mergePasses({ why: 'resync' }, { why: 'reload', built, toCaller: true }), { why: 'reload', built, toCaller: true });
    assert.deepEqual(mergePasses({ why: 'reload', built, toCaller: true }, { why: 'resync' }), { why: 'reload', built, toCaller: true });
    assert.deepEqual(mergePasses({ why: 'start' }, { why: 'resync' }), { why: 'start' });
    assert.deepEqual(mergePasses({ why: 'resync' }, { why: 'resync' }), { why: 'resync' });
    assert.deepEqual(retryOf({ why: 'reload', built, toCaller: true }), { why: 'reload' });
  });
});
