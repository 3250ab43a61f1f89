import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RotationLoop } from '../../src/identity/rotation-loop.js';
import type { Assessment } from '../../src/identity/schedule.js';
import { FakeClock } from '../helpers/fake-clock.js';

interface Harness {
  clock: FakeClock;
  loop: RotationLoop;
  rotations: number[];
  failures: number[];
  cert: Assessment;
  failNext: number;
}

function harness(lifetime = 10_000, maxSleepMs = 3_600_000): Harness {
  const h: Harness = { clock: new FakeClock(0), loop: undefined as unknown as RotationLoop, rotations: [], failures: [], cert: { state: 'missing', reason: 'none' }, failNext: 0 };
  let serial = 0;
  h.loop = new RotationLoop({
    clock: h.clock,
    random: () => 0.5,
    maxSleepMs,
    policy: () => ({ graceRatio: 0.5, graceJitter: 0 }),
    inspect: () => Promise.resolve(h.cert.state === 'valid' && h.clock.now() >= h.cert.notAfter ? { state: 'expired', reason: 'x' } : h.cert),
    rotate: () => {
      if (h.failNext > 0) {
        h.failNext -= 1;
        h.failures.push(h.clock.now());
        return Promise.reject(new Error('CA down'));
      }
      h.rotations.push(h.clock.now());
      serial += 1;
      h.cert = { state: 'valid', serial: String(serial), issuedAt: h.clock.now(), notAfter: h.clock.now() + lifetime };
      return Promise.resolve();
    },
  });
  return h;
}

async function settle(loop: RotationLoop): Promise<void> {
  for (let i = 0; i < 5; i += 1) {
    await loop.idle();
    await new Promise((r) => setImmediate(r));
  }
}

void describe('RotationLoop on a fake clock', () => {
  void test('issues at once when nothing is installed, then rotates at half the lifetime', async () => {
    const h = harness();
    h.loop.start();
    await settle(h.loop);
    assert.deepEqual(h.rotations, [0]);
    assert.deepEqual(h.clock.pending(), [5000]);
    assert.equal(h.loop.nextWake, 5000);
    h.clock.fireNext();
    await settle(h.loop);
    assert.deepEqual(h.rotations, [0, 5000]);
    assert.deepEqual(h.clock.pending(), [5000]);
    await h.loop.stop();
  });

  void test('retries with exponential backoff forever and resets after a success', async () => {
    const h = harness();
    h.failNext = 12;
    h.loop.start();
    await settle(h.loop);
    for (let i = 0; i < 12; i += 1) {
      h.clock.fireNext();
      await settle(h.loop);
    }
    const gaps = h.failures.slice(1).map((t, i) => t - (h.failures[i] ?? 0));
    assert.deepEqual(gaps, [500, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
    assert.equal(h.rotations.length, 1, 'the 13th attempt succeeded');
    assert.equal(h.loop.state.consecutiveFailures, 0);
    assert.deepEqual(h.clock.pending(), [5000]);
    await h.loop.stop();
  });

  void test('a failed renewal keeps waiting on backoff while the old certificate is still valid', async () => {
    const h = harness(100_000);
    h.loop.start();
    await settle(h.loop);
    h.failNext = 2;
    h.clock.fireNext(); // rotation time (50 s): fails
    await settle(h.loop);
    assert.equal(h.loop.state.consecutiveFailures, 1);
    assert.equal(h.cert.state, 'valid', 'old certificate untouched');
    assert.deepEqual(h.clock.pending(), [500]);
    h.clock.fireNext();
    await settle(h.loop);
    h.clock.fireNext();
    await settle(h.loop);
    assert.equal(h.rotations.length, 2);
    await h.loop.stop();
  });

  void test('sleeps are capped so changes on disk are noticed', async () => {
    const h = harness(24 * 3_600_000, 60_000);
    h.loop.start();
    await settle(h.loop);
    assert.deepEqual(h.clock.pending(), [60_000]);
    h.cert = { state: 'missing', reason: 'deleted by hand' };
    h.clock.fireNext();
    await settle(h.loop);
    assert.equal(h.rotations.length, 2, 'a deleted certificate is replaced at the next look');
    await h.loop.stop();
  });

  void test('stop cancels the timer and an in-flight rotation', async () => {
    const clock = new FakeClock(0);
    let aborted = false;
    const loop = new RotationLoop({
      clock,
      random: () => 0.5,
      maxSleepMs: 1000,
      policy: () => ({ graceRatio: 0.5, graceJitter: 0 }),
      inspect: () => Promise.resolve({ state: 'missing', reason: 'x' }),
      rotate: (signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('cancelled'));
          });
        }),
    });
    loop.start();
    await new Promise((r) => setImmediate(r));
    await loop.stop();
    assert.ok(aborted);
    assert.deepEqual(clock.pending(), []);
    assert.equal(loop.state.consecutiveFailures, 0, 'a cancelled attempt is not a failure');
  });

  void test('kick(true) forgets the backoff (e.g. a reload with a new CA address)', async () => {
    const h = harness();
    h.failNext = 3;
    h.loop.start();
    await settle(h.loop);
    h.clock.fireNext();
    await settle(h.loop);
    h.clock.fireNext();
    await settle(h.loop);
    assert.equal(h.loop.state.consecutiveFailures, 3);
    h.loop.kick(true);
    await settle(h.loop);
    assert.equal(h.rotations.length, 1);
    await h.loop.stop();
  });
});

void describe('RotationLoop looks', () => {
  void test('kicks during a look become one more look, and leave one timer armed', async () => {
    const clock = new FakeClock(0);
    let release = (): void => undefined;
    let looks = 0;
    const loop = new RotationLoop({
      clock,
      random: () => 0.5,
      maxSleepMs: 60_000,
      policy: () => ({ graceRatio: 0.5, graceJitter: 0 }),
      inspect: () => {
        looks += 1;
        const valid: Assessment = { state: 'valid', serial: '1', issuedAt: 0, notAfter: 3_600_000 };
        // The first look is slow: the kicks below arrive while it runs.
        return looks === 1 ? new Promise((resolve) => (release = () => resolve(valid))) : Promise.resolve(valid);
      },
      rotate: () => Promise.reject(new Error('not due')),
    });
    loop.start();
    await new Promise((r) => setImmediate(r));
    loop.kick();
    loop.kick();
    loop.kick(true);
    release();
    await loop.idle();
    assert.equal(looks, 2, 'three kicks during a look: one more look');
    assert.deepEqual(clock.pending(), [60_000], 'one timer, capped at maxSleepMs');
    await loop.stop();
    assert.deepEqual(clock.pending(), []);
  });
});
