import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Reconciler, retryDelay, type PassRecord, type ReconcilerOptions } from '../../src/agent/reconciler.js';
import { FakeClock, flush } from '../helpers/fake-clock.js';

/** A request is a set of labels; merging is their union (sorted, so passes compare as arrays). */
type Req = readonly string[];
const merge = (a: Req, b: Req): Req => [...new Set([...a, ...b])].sort();

interface Gate {
  promise: Promise<void>;
  open(): void;
  fail(err: unknown): void;
}

function gate(): Gate {
  let open = (): void => undefined;
  let fail = (_err: unknown): void => undefined;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

interface Harness {
  clock: FakeClock;
  r: Reconciler<Req>;
  /** Each pass's request, in order. */
  passes: Req[];
  records: PassRecord<Req>[];
  /** Passes still running; the test opens (or fails) them. */
  running: Gate[];
  /** The most passes that ever ran at once. */
  maxConcurrent: number;
  /** When set, each pass fails with this error (without waiting on a gate). */
  failWith: Error | undefined;
  /** When false, passes finish at once; when true, each waits on its gate. */
  hold: boolean;
}

function harness(options: Partial<ReconcilerOptions<Req>> = {}): Harness {
  const clock = new FakeClock();
  let active = 0;
  const h: Harness = { clock, r: undefined as unknown as Reconciler<Req>, passes: [], records: [], running: [], maxConcurrent: 0, failWith: undefined, hold: false };
  h.r = new Reconciler<Req>({
    clock,
    random: () => 0.5,
    backoff: { initialMs: 1000, maxMs: 8000, jitter: 0.2 },
    merge,
    run: async (req) => {
      h.passes.push(req);
      active += 1;
      h.maxConcurrent = Math.max(h.maxConcurrent, active);
      try {
        if (h.failWith !== undefined) throw h.failWith;
        if (h.hold) {
          const g = gate();
          h.running.push(g);
          await g.promise;
        }
      } finally {
        active -= 1;
      }
    },
    onPass: (rec) => h.records.push(rec),
    ...options,
  });
  h.r.start();
  return h;
}

describe('Reconciler', () => {
  test('passes run one at a time; requests made during a pass merge into the next one', async () => {
    const h = harness();
    h.hold = true;
    const first = h.r.request(['a']);
    await flush();
    assert.equal(h.running.length, 1);
    const second = h.r.request(['b']);
    const third = h.r.request(['c']);
    await flush();
    assert.equal(h.passes.length, 1, 'nothing starts while a pass runs');
    h.running[0]?.open();
    assert.deepEqual(await first, { ok: true });
    await flush();
    assert.deepEqual(h.passes, [['a'], ['b', 'c']]);
    h.running[1]?.open();
    assert.deepEqual(await Promise.all([second, third]), [{ ok: true }, { ok: true }]);
    assert.equal(h.maxConcurrent, 1);
    assert.equal(h.r.report().passes, 2);
  });

  test('requests made in the same tick join the first pass', async () => {
    const h = harness();
    await Promise.all([h.r.request(['a']), h.r.request(['b'])]);
    assert.deepEqual(h.passes, [['a', 'b']]);
  });

  test('requestSoon turns a burst into one pass, counted from the burst\'s first request', async () => {
    const h = harness({ debounceMs: 50 });
    h.r.requestSoon(['x']);
    await h.clock.advance(30);
    h.r.requestSoon(['y']);
    await h.clock.advance(19);
    assert.equal(h.passes.length, 0, 'still collecting');
    await h.clock.advance(1);
    await h.r.settled();
    assert.deepEqual(h.passes, [['x', 'y']], 'a later request does not extend the window');
    h.r.requestSoon(['z']);
    await h.clock.advance(50);
    await h.r.settled();
    assert.deepEqual(h.passes, [['x', 'y'], ['z']]);
  });

  test('a failed pass is retried with doubling, jittered, capped delays; a success clears the count', async () => {
    const h = harness();
    h.failWith = new Error('kernel said no');
    const result = await h.r.request(['a']);
    assert.equal(result.ok, false);
    assert.equal((result as { error: Error }).error.message, 'kernel said no');
    // random() = 0.5 is the middle of the jitter band: the bare doubling.
    const delays: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const retry = h.records.at(-1)?.retryInMs;
      assert.ok(retry !== undefined, `pass ${i + 1} armed a retry`);
      delays.push(retry);
      assert.deepEqual(h.clock.pending(), [retry]);
      assert.equal(h.r.report().nextRetry?.inMs, retry);
      await h.clock.advance(retry - 1);
      assert.equal(h.passes.length, i + 1, 'no retry before its delay');
      await h.clock.advance(1);
      await h.r.settled();
      assert.equal(h.passes.length, i + 2);
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000]);
    assert.ok(h.passes.every((p) => p.join() === 'a'), 'the retry carries the failed work');
    assert.equal(h.r.report().consecutiveFailures, 6);
    h.failWith = undefined;
    await h.clock.advance(8000);
    await h.r.settled();
    const report = h.r.report();
    assert.equal(report.consecutiveFailures, 0);
    assert.equal(report.failures, 6);
    assert.equal(report.passes, 7);
    assert.equal(report.nextRetry, undefined);
    assert.equal(report.lastPass?.ok, true);
    assert.deepEqual(h.clock.pending(), [], 'no retry left armed');
    assert.equal(h.r.lastOk, true);
  });

  test('the work of a failed pass rides along with the next pass; the retry then finds nothing left', async () => {
    const h = harness();
    h.failWith = new Error('no');
    await h.r.request(['a']);
    h.failWith = undefined;
    await h.r.request(['b']);
    assert.deepEqual(h.passes, [['a'], ['a', 'b']]);
    assert.deepEqual(h.clock.pending(), [], 'the success disarmed the retry');
    await h.clock.advance(60_000);
    assert.equal(h.passes.length, 2);
  });

  test('retryRequest chooses what is retried; undefined arms nothing but still counts the failure', async () => {
    const h = harness({ retryRequest: (failed) => (failed.includes('once') ? undefined : ['full']) });
    h.failWith = new Error('no');
    await h.r.request(['once']);
    assert.deepEqual(h.clock.pending(), []);
    assert.equal(h.r.report().failures, 1);
    assert.equal(h.r.report().lastPass?.error, 'no');
    h.failWith = undefined;
    await h.r.request(['peer']);
    assert.deepEqual(h.passes.at(-1), ['peer'], 'nothing was kept from the pass not retried');
    h.failWith = new Error('no');
    await h.r.request(['peer']);
    h.failWith = undefined;
    await h.clock.advance(1000);
    await h.r.settled();
    assert.deepEqual(h.passes.at(-1), ['full']);
  });

  test('periodic resync: one request every period after the previous one finished; setResync restarts the period', async () => {
    const h = harness({ resync: { everyMs: 1000, request: () => ['resync'] } });
    h.hold = true;
    await h.clock.advance(1000);
    assert.deepEqual(h.passes, [['resync']]);
    await h.clock.advance(5000);
    assert.equal(h.passes.length, 1, 'the next period starts when the running pass has finished');
    h.running[0]?.open();
    await flush();
    h.hold = false;
    await h.clock.advance(999);
    assert.equal(h.passes.length, 1);
    await h.clock.advance(1);
    assert.equal(h.passes.length, 2);
    await h.clock.advance(500);
    h.r.setResync(3000);
    await h.clock.advance(2999);
    assert.equal(h.passes.length, 2, 'the new period counts from setResync');
    await h.clock.advance(1);
    assert.equal(h.passes.length, 3);
    h.r.setResync(0);
    await h.clock.advance(60_000);
    assert.equal(h.passes.length, 3, 'a period of 0 means no resync');
  });

  test('stop drops what is queued, disarms every timer and waits for the running pass', async () => {
    const h = harness({ resync: { everyMs: 1000, request: () => ['resync'] } });
    h.hold = true;
    const running = h.r.request(['a']);
    await flush();
    const queued = h.r.request(['b']);
    h.r.requestSoon(['c']);
    let stopped = false;
    const stopping = h.r.stop().then(() => {
      stopped = true;
    });
    assert.equal((await queued).ok, false, 'a queued request resolves not ok');
    await flush();
    assert.equal(stopped, false, 'stop waits for the running pass');
    h.running[0]?.fail(new Error('late failure'));
    await stopping;
    assert.equal((await running).ok, false);
    assert.deepEqual(h.clock.pending(), [], 'no resync, debounce or retry timer left');
    assert.deepEqual(h.passes, [['a']]);
    assert.equal((await h.r.request(['d'])).ok, false, 'a request after stop is refused');
    h.r.requestSoon(['e']);
    await h.clock.advance(60_000);
    assert.deepEqual(h.passes, [['a']]);
    // Started again, nothing of the pass that failed while stopping rides along.
    h.hold = false;
    h.r.start();
    await h.r.request(['f']);
    assert.deepEqual(h.passes, [['a'], ['f']]);
  });

  test('a pass that throws synchronously fails like one that rejects; a throwing onPass does not stop the loop', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const r = new Reconciler<Req>({
      clock,
      merge,
      run: (req) => {
        calls += 1;
        if (req.includes('sync')) throw new Error('synchronous');
        return Promise.resolve();
      },
      onPass: () => {
        throw new Error('reporting broke');
      },
    });
    r.start();
    const bad = await r.request(['sync']);
    assert.equal(bad.ok, false);
    assert.equal(r.report().lastPass?.error, 'synchronous');
    await clock.advance(60_000);
    assert.ok(calls >= 2, 'the retry ran despite the throwing onPass');
    const again = await r.request(['fine']);
    assert.equal(again.ok, false, 'the failed work rides along and fails again');
    assert.equal(r.report().lastPass?.error, 'synchronous');
    await r.stop();
  });

  test('settled waits for queued passes; report carries the last pass with wall-clock time and duration', async () => {
    const clock = new FakeClock();
    let mono = 0;
    const r = new Reconciler<Req>({
      clock: { now: () => clock.now(), monotonic: () => mono, setTimer: (fn, ms) => clock.setTimer(fn, ms), clearTimer: (t) => clock.clearTimer(t) },
      merge,
      run: () => {
        mono += 12.34;
        return Promise.resolve();
      },
    });
    assert.equal(r.lastOk, undefined);
    assert.deepEqual(r.report(), { passes: 0, failures: 0, consecutiveFailures: 0 });
    r.start();
    void r.request(['a']);
    await r.settled();
    assert.deepEqual(r.report(), { passes: 1, failures: 0, consecutiveFailures: 0, lastPass: { at: new Date(clock.now()).toISOString(), ms: 12.3, ok: true } });
    await r.stop();
  });
});

describe('retryDelay', () => {
  const policy = { initialMs: 1000, maxMs: 60_000, jitter: 0.2 };
  test('doubles from initialMs, stays within ± jitter and never exceeds maxMs', () => {
    assert.equal(retryDelay(1, policy, () => 0), 800);
    assert.equal(retryDelay(1, policy, () => 0.999999), 1200);
    assert.equal(retryDelay(3, policy, () => 0.5), 4000);
    assert.equal(retryDelay(7, policy, () => 0.999999), 60_000, 'the cap holds after jitter');
    assert.equal(retryDelay(7, policy, () => 0), 48_000);
    assert.equal(retryDelay(10_000, policy, () => 0.5), 60_000, 'a huge count does not overflow');
    assert.equal(retryDelay(0, policy, () => 0.5), 1000, 'a count below 1 is the first delay');
  });
});
