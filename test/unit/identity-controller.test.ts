/**
 * The identity controller through its injected boundary, no root: an in-process CA signing with a
 * real test PKI, the real certificate store in a temp directory, a fake clock. Start, rotation at
 * the grace time, a start over a valid certificate, reload (CA address, certDir), stop.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Config } from '../../src/config/schema.js';
import { IdentityController } from '../../src/identity/controller.js';
import { metricValue, testContext, type TestContext } from '../helpers/controller-context.js';
import { fakeIdentityBoundary, identityConfig, type FakeIdentityBoundary } from '../helpers/identity-fakes.js';

const HOUR = 3_600_000;

interface Harness {
  b: FakeIdentityBoundary;
  ctx: TestContext;
  controller: IdentityController;
}

async function harness(edit?: (identity: Config['identity']) => void): Promise<Harness> {
  const b = await fakeIdentityBoundary();
  const ctx = testContext();
  return { b, ctx, controller: new IdentityController(await identityConfig(b, edit), ctx, b) };
}

async function done(h: Harness): Promise<void> {
  await h.controller.stop();
  await h.b.cleanup();
}

async function fingerprint(path: string): Promise<string> {
  return new X509Certificate(await readFile(path)).fingerprint256;
}

function status(h: Harness): Record<string, unknown> {
  return h.controller.status();
}

/** Advances the fake clock timer by timer (sleeps are capped at 60 s) until `ms` have passed. */
async function advance(h: Harness, ms: number): Promise<void> {
  const until = h.b.clock.now() + ms;
  for (let i = 0; i < 10_000 && h.b.clock.now() < until; i += 1) {
    const next = h.b.clock.pending()[0];
    if (next === undefined || h.b.clock.now() + next > until) break;
    h.b.clock.fireNext();
    await h.controller.settled();
  }
  h.b.clock.time = Math.max(h.b.clock.time, until);
}

void describe('identity controller (fake boundary)', () => {
  void test('start with nothing installed: a certificate at once, installed and ready', async () => {
    const h = await harness();
    try {
      await h.controller.start();
      await h.controller.settled();
      assert.equal(h.b.ca.calls.length, 1);
      assert.deepEqual(h.b.ca.calls[0], { address: 'istiod-a.example:15012', auth: { mtls: false, token: false }, ttlMs: HOUR });
      const s = status(h);
      assert.equal(s.certificate, 'valid');
      assert.equal(typeof s.serial, 'string');
      assert.equal(h.controller.ready().ready, true);
      assert.equal(await fingerprint(join(h.b.dir, 'certs', 'root-cert.pem')), new X509Certificate(h.b.ca.rootPem).fingerprint256);
      assert.match(await readFile(join(h.b.dir, 'certs', 'cert-chain.pem'), 'utf8'), /BEGIN CERTIFICATE/);
      // Rotation at half the lifetime, counted from the local issue time (NotAfter has whole seconds).
      const rotateIn = Date.parse(String(s.nextRotation)) - h.b.clock.now();
      assert.ok(rotateIn > HOUR / 2 - 1000 && rotateIn <= HOUR / 2, `rotation in ${rotateIn} ms`);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_identity_rotations_total', { auth: 'token' }), 1);
    } finally {
      await done(h);
    }
  });

  void test('rotates at the grace time over mTLS with the current certificate; the new one replaces it', async () => {
    const h = await harness();
    try {
      await h.controller.start();
      await h.controller.settled();
      const first = status(h).serial;
      await advance(h, HOUR / 2 - 60_001);
      assert.equal(h.b.ca.calls.length, 1, 'not before the rotation time');
      await advance(h, 60_002);
      assert.equal(h.b.ca.calls.length, 2);
      assert.deepEqual(h.b.ca.calls[1]?.auth, { mtls: true, token: false });
      assert.notEqual(status(h).serial, first);
      assert.equal(status(h).consecutiveFailures, 0);
      assert.equal(await metricValue(h.ctx.metrics, 'mesh_node_agent_identity_rotations_total', { auth: 'mtls' }), 1);
    } finally {
      await done(h);
    }
  });

  void test('a new controller over a valid installed certificate asks the CA for nothing until it is due', async () => {
    const h = await harness();
    try {
      await h.controller.start();
      await h.controller.settled();
      const serial = status(h).serial;
      await h.controller.stop();
      const again = new IdentityController(await identityConfig(h.b), testContext(), h.b);
      try {
        await again.start();
        await again.settled();
        assert.equal(h.b.ca.calls.length, 1);
        assert.equal(again.status().serial, serial);
        assert.equal(again.ready().ready, true);
      } finally {
        await again.stop();
      }
    } finally {
      await done(h);
    }
  });

  void test('reload to a new CA address while backing off: asked at once, at the new address', async () => {
    const h = await harness();
    try {
      h.b.ca.behaviour = 'down';
      await h.controller.start();
      await h.controller.settled();
      await advance(h, 500);
      await advance(h, 1000);
      assert.equal(h.b.ca.calls.length, 3);
      assert.equal(status(h).consecutiveFailures, 3);
      assert.deepEqual(h.b.clock.pending(), [2000], 'backing off 2 s');
      h.b.ca.behaviour = 'normal';
      await h.controller.reload(await identityConfig(h.b, (i) => (i.ca.address = 'istiod-b.example:15012')));
      await h.controller.settled();
      assert.equal(h.b.ca.calls.length, 4, 'no wait for the old backoff');
      assert.equal(h.b.ca.calls[3]?.address, 'istiod-b.example:15012');
      assert.equal(status(h).certificate, 'valid');
      assert.equal(status(h).caAddress, 'istiod-b.example:15012');
      assert.equal(status(h).consecutiveFailures, 0);
    } finally {
      await done(h);
    }
  });

  void test('reload with an unchanged CA keeps the backoff', async () => {
    const h = await harness();
    try {
      h.b.ca.behaviour = 'down';
      await h.controller.start();
      await h.controller.settled();
      await h.controller.reload(await identityConfig(h.b, (i) => (i.graceRatio = 0.6)));
      await h.controller.settled();
      assert.equal(h.b.ca.calls.length, 1, 'the retry waits for its backoff');
      assert.deepEqual(h.b.clock.pending(), [500]);
    } finally {
      await done(h);
    }
  });

  void test('reload to a new certDir: the next look uses the new directory and fills it', async () => {
    const h = await harness();
    try {
      await h.controller.start();
      await h.controller.settled();
      const moved = join(h.b.dir, 'certs-2');
      await h.controller.reload(await identityConfig(h.b, (i) => (i.certDir = moved)));
      await h.controller.settled();
      assert.equal(h.b.ca.calls.length, 2, 'the new directory was empty');
      assert.equal(status(h).certDir, moved);
      assert.equal(await fingerprint(join(moved, 'root-cert.pem')), new X509Certificate(h.b.ca.rootPem).fingerprint256);
      assert.equal(h.controller.ready().ready, true);
    } finally {
      await done(h);
    }
  });

  void test('stop cancels a CA call in flight and leaves no timer', async () => {
    const h = await harness();
    try {
      h.b.ca.behaviour = 'hang';
      await h.controller.start();
      await h.b.ca.called(1);
      await h.controller.stop();
      assert.equal(h.b.ca.cancelled, 1);
      assert.deepEqual(h.b.clock.pending(), []);
      assert.equal(h.b.stores.get(join(h.b.dir, 'certs'))?.installs, 0);
    } finally {
      await done(h);
    }
  });
});
