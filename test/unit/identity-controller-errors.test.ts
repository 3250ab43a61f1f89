/**
 * The identity controller's error paths through its injected boundary, no root: CA answers that
 * fail verification never replace a good certificate; the CA down (backoff, expiry, readiness);
 * a failed install; an unsafe ca.rootCert; an installed certificate deleted behind our back.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { IdentityController } from '../../src/identity/controller.js';
import { metricValue, testContext, type TestContext } from '../helpers/controller-context.js';
import { fakeIdentityBoundary, identityConfig, type FakeCaBehaviour, type FakeIdentityBoundary } from '../helpers/identity-fakes.js';

const HOUR = 3_600_000;

interface Harness {
  b: FakeIdentityBoundary;
  ctx: TestContext;
  controller: IdentityController;
  certDir: string;
}

async function started(prepare: (b: FakeIdentityBoundary) => void | Promise<void> = () => undefined): Promise<Harness> {
  const b = await fakeIdentityBoundary();
  await prepare(b);
  const ctx = testContext();
  const config = await identityConfig(b);
  const controller = new IdentityController(config, ctx, b);
  await controller.start();
  await controller.settled();
  return { b, ctx, controller, certDir: config.identity.certDir };
}

async function done(h: Harness): Promise<void> {
  await h.controller.stop();
  await h.b.cleanup();
}

/** Fires the next timer (a retry or a look) and waits for what it started. */
async function next(h: Harness): Promise<number> {
  const delay = h.b.clock.fireNext();
  await h.controller.settled();
  return delay;
}

/** Fires timers until the clock has passed `at` (looks are at most 60 s apart). */
async function until(h: Harness, at: number): Promise<void> {
  for (let i = 0; i < 1000 && h.b.clock.now() < at; i += 1) await next(h);
}

async function installed(h: Harness): Promise<{ key: string; chain: string; root: string }> {
  const read = (name: string): Promise<string> => readFile(join(h.certDir, name), 'utf8');
  return { key: await read('key.pem'), chain: await read('cert-chain.pem'), root: await read('root-cert.pem') };
}

function lastError(h: Harness): string {
  return (h.controller.status().lastError as { message?: string } | undefined)?.message ?? '';
}

void describe('identity controller error paths (fake boundary)', () => {
  void test('a CA answer that fails verification never replaces the good certificate', async () => {
    const h = await started();
    try {
      const good = await installed(h);
      const serial = h.controller.status().serial;
      await until(h, Date.parse(String(h.controller.status().nextRotation)));
      assert.equal(h.b.ca.calls.length, 2, 'rotated once while the CA behaved');
      const rotated = await installed(h);
      assert.notEqual(rotated.chain, good.chain);
      const cases: [FakeCaBehaviour, RegExp][] = [
        ['other-identity', /CA answer rejected: the leaf certificate is for spiffe:\/\/cluster\.local\/ns\/intruder\/sa\/mallory, expected spiffe:\/\/cluster\.local\/ns\/default\/sa\/default/],
        ['wrong-key', /CA answer rejected: the leaf certificate does not carry the public key of our CSR/],
        ['untrusted', /CA answer rejected: the chain does not verify to a trusted root/],
        ['expired', /CA answer rejected: certificate 1 .* is not valid now/],
        ['garbage', /CA answer rejected: /],
      ];
      for (const [index, [behaviour, message]] of cases.entries()) {
        h.b.ca.behaviour = behaviour;
        // The first at the rotation time, each next one at the retry after the previous refusal.
        if (index === 0) await until(h, Date.parse(String(h.controller.status().nextRotation)));
        else await next(h);
        assert.equal(h.b.ca.calls.length, 3 + index, `${behaviour}: the CA was asked`);
        assert.match(lastError(h), message, behaviour);
        assert.deepEqual(await installed(h), rotated, `${behaviour}: installed files unchanged`);
        assert.equal(h.controller.status().consecutiveFailures, index + 1);
        assert.equal(h.controller.ready().ready, true, `${behaviour}: still ready on the good certificate`);
      }
      assert.notEqual(h.controller.status().serial, serial);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_identity_rotation_failures_total', { reason: 'answer_rejected' }), cases.length);
      h.b.ca.behaviour = 'normal';
      await next(h);
      assert.equal(h.controller.status().consecutiveFailures, 0);
      assert.notDeepEqual(await installed(h), rotated, 'a good answer is installed');
    } finally {
      await done(h);
    }
  });

  void test('the CA down with nothing installed: not ready, retried with a doubling backoff', async () => {
    const h = await started((b) => {
      b.ca.behaviour = 'down';
    });
    try {
      assert.equal(h.controller.ready().ready, false);
      assert.match(h.controller.ready().reason ?? '', /^missing: /);
      assert.match(lastError(h), /UNAVAILABLE/);
      assert.deepEqual([await next(h), await next(h), await next(h)], [500, 1000, 2000]);
      assert.equal(h.controller.status().consecutiveFailures, 4);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_identity_rotation_failures_total', { reason: 'ca_unavailable' }), 4);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_identity_consecutive_failures'), 4);
      h.b.ca.behaviour = 'normal';
      await next(h);
      assert.equal(h.controller.ready().ready, true);
    } finally {
      await done(h);
    }
  });

  void test('a certificate expiring while the CA is down turns the controller not ready, and keeps it installed', async () => {
    const h = await started();
    try {
      const good = await installed(h);
      h.b.ca.behaviour = 'down';
      await until(h, h.b.clock.now() + HOUR + 1000);
      assert.equal(h.controller.ready().ready, false);
      assert.match(h.controller.ready().reason ?? '', /^expired: /);
      assert.equal(h.controller.status().certificate, 'expired');
      assert.deepEqual(await installed(h), good, 'nothing better to put there');
    } finally {
      await done(h);
    }
  });

  void test('an install that fails (disk full) keeps the old certificate and is retried', async () => {
    const h = await started();
    try {
      const good = await installed(h);
      const store = h.b.stores.get(h.certDir);
      assert.ok(store !== undefined);
      store.failInstalls = 1;
      await until(h, Date.parse(String(h.controller.status().nextRotation)));
      assert.match(lastError(h), /ENOSPC/);
      assert.deepEqual(await installed(h), good);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_identity_rotation_failures_total', { reason: 'install' }), 1);
      assert.equal(await next(h), 500);
      assert.equal(h.controller.status().consecutiveFailures, 0);
      assert.notDeepEqual(await installed(h), good);
    } finally {
      await done(h);
    }
  });

  void test('an unsafe ca.rootCert: said at start, the CA is never asked, fixed file used on the retry', async () => {
    const h = await started((b) => chmod(b.rootCertPath, 0o666));
    try {
      assert.equal(h.b.ca.calls.length, 0, 'no token or CSR goes to a CA chosen by whoever can write the root');
      assert.match(lastError(h), /identity\.ca\.rootCert .* is writable by group and others/);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_identity_rotation_failures_total', { reason: 'ca_root_unsafe' }), 1);
      await chmod(h.b.rootCertPath, 0o644);
      await next(h);
      assert.equal(h.b.ca.calls.length, 1);
      assert.equal(h.controller.ready().ready, true);
    } finally {
      await done(h);
    }
  });

  void test('an installed certificate deleted behind our back is replaced at the next look', async () => {
    const h = await started();
    try {
      await rm(join(h.certDir, '..data'), { recursive: true, force: true });
      assert.equal(await next(h), 60_000, 'looks at least every minute');
      assert.equal(h.b.ca.calls.length, 2);
      assert.equal(h.controller.ready().ready, true);
      assert.match(await readFile(join(h.certDir, 'key.pem'), 'utf8'), /PRIVATE KEY/);
    } finally {
      await done(h);
    }
  });
});
