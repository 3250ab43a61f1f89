import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { afterFailure, afterSuccess, backoffDelay, decide, rotationTime, BACKOFF_MAX_MS, type Assessment } from '../../src/identity/schedule.js';

const policy = { graceRatio: 0.5, graceJitter: 0 };
const fixed = (value: number) => (): number => value;
const H = 3_600_000;

void describe('rotationTime', () => {
  void test('NotAfter − ratio·lifetime, lifetime from the local issue time', () => {
    assert.equal(rotationTime({ issuedAt: 0, notAfter: 24 * H }, policy, Math.random), 12 * H);
    // A backdated NotBefore does not matter: only issuedAt counts.
    assert.equal(rotationTime({ issuedAt: 1000, notAfter: 1000 + 10_000 }, { graceRatio: 0.2, graceJitter: 0 }, Math.random), 1000 + 8000);
  });

  void test('jitter moves the ratio by at most ±graceJitter, both ways', () => {
    const cert = { issuedAt: 0, notAfter: 24 * H };
    const times = [0, 0.25, 0.49, 0.5, 0.75, 0.999].flatMap((a) => [0, 0.5, 0.999].map((b) => {
      let n = 0;
      return rotationTime(cert, { graceRatio: 0.5, graceJitter: 0.01 }, () => (n++ === 0 ? a : b));
    }));
    for (const t of times) assert.ok(t >= 12 * H - 0.01 * 24 * H - 1 && t <= 12 * H + 0.01 * 24 * H + 1, String(t));
    assert.ok(times.some((t) => t < 12 * H) && times.some((t) => t > 12 * H));
  });

  void test('the jittered ratio is clamped to [0, 1]', () => {
    let n = 0;
    const t = rotationTime({ issuedAt: 0, notAfter: 100 }, { graceRatio: 0.99, graceJitter: 0.5 }, () => (n++ === 0 ? 0.9 : 0.999));
    assert.equal(t, 0);
  });
});

void describe('backoffDelay', () => {
  void test('starts at 0.5 s, doubles, and caps at 60 s forever', () => {
    const mid = fixed(0.5); // jitter factor 1.0
    assert.equal(backoffDelay(1, mid), 500);
    assert.equal(backoffDelay(2, mid), 1000);
    assert.equal(backoffDelay(3, mid), 2000);
    assert.equal(backoffDelay(8, mid), 60_000);
    assert.equal(backoffDelay(1000, mid), 60_000);
  });

  void test('jitter stays within ±20 % and never exceeds the cap', () => {
    assert.equal(backoffDelay(1, fixed(0)), 400);
    assert.equal(backoffDelay(1, fixed(1)), 600);
    assert.equal(backoffDelay(50, fixed(1)), BACKOFF_MAX_MS);
  });
});

void describe('decide', () => {
  const valid: Assessment = { state: 'valid', serial: 'A', issuedAt: 0, notAfter: 10_000 };

  void test('missing, unreadable, expired or foreign certificates rotate at once', () => {
    for (const state of ['missing', 'unreadable', 'expired', 'other-identity'] as const) {
      const { decision } = decide({ consecutiveFailures: 0 }, { state, reason: 'x' }, 0, policy, Math.random);
      assert.equal(decision.action, 'rotate', state);
    }
  });

  void test('a valid certificate waits until its rotation time, computed once per serial', () => {
    const first = decide({ consecutiveFailures: 0 }, valid, 1000, policy, Math.random);
    assert.deepEqual(first.decision, { action: 'wait', until: 5000, why: 'certificate valid' });
    const again = decide(first.state, valid, 4999, { graceRatio: 0.9, graceJitter: 0 }, Math.random);
    assert.equal(again.decision.action === 'wait' && again.decision.until, 5000, 'kept for the same serial');
    const due = decide(first.state, valid, 5000, policy, Math.random);
    assert.equal(due.decision.action, 'rotate');
    const next = decide(first.state, { ...valid, serial: 'B', issuedAt: 6000, notAfter: 16_000 }, 6000, policy, Math.random);
    assert.equal(next.decision.action === 'wait' && next.decision.until, 11_000, 'recomputed for a new serial');
  });

  void test('after a failure the retry time wins, even over a missing certificate', () => {
    const failed = afterFailure({ consecutiveFailures: 0 }, 1000, fixed(0.5));
    assert.equal(failed.consecutiveFailures, 1);
    assert.equal(failed.retryAt, 1500);
    const waiting = decide(failed, { state: 'missing', reason: 'x' }, 1200, policy, Math.random);
    assert.equal(waiting.decision.action, 'wait');
    assert.equal(decide(failed, { state: 'missing', reason: 'x' }, 1500, policy, Math.random).decision.action, 'rotate');
    const twice = afterFailure(failed, 1500, fixed(0.5));
    assert.equal(twice.retryAt, 2500);
    assert.deepEqual(afterSuccess(), { consecutiveFailures: 0 });
  });
});
