/**
 * The DNS hot path's clocks (src/dns/clock.ts), each checked against the clock it claims to be:
 * process.hrtime reads CLOCK_MONOTONIC through libuv, the clock the addon reads itself, so a
 * reading of either DnsClock taken between two hrtime readings must lie between them. No other
 * clock (wall time, /proc/uptime, which stops during a suspend) is compared, and no duration is
 * judged against a time window.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MICROS_WRAP, elapsedMicros, nativeClock, performanceClock, type DnsClock } from '../../src/dns/clock.js';
import { loadUdpBatch } from '../../src/dns/udp-batch.js';

/** CLOCK_MONOTONIC in microseconds (process.hrtime is libuv's uv_hrtime: clock_gettime(CLOCK_MONOTONIC)). */
const monotonicMicros = (): bigint => process.hrtime.bigint() / 1000n;

/** Yields to the event loop until `micros` of CLOCK_MONOTONIC have passed (bounded: 10,000 turns). */
async function pass(micros: bigint): Promise<void> {
  const until = monotonicMicros() + micros;
  for (let turns = 0; monotonicMicros() < until; turns++) {
    if (turns > 10_000) throw new Error(`CLOCK_MONOTONIC did not advance ${micros} µs in 10,000 event-loop turns`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Reads `clock.micros()` between two monotonic readings. */
function bracketed(clock: DnsClock): { before: bigint; value: number; after: bigint } {
  const before = monotonicMicros();
  const value = clock.micros();
  const after = monotonicMicros();
  return { before, value, after };
}

const wrap = (micros: bigint): number => Number(micros % BigInt(MICROS_WRAP));

void describe('dns clock', () => {
  void test('durations are taken modulo the wrap, so a reading past it still measures right', () => {
    assert.equal(elapsedMicros(100, 350), 250);
    assert.equal(elapsedMicros(MICROS_WRAP - 10, 5), 15);
    assert.equal(elapsedMicros(7, 7), 0);
  });

  const load = loadUdpBatch();
  const clocks: [string, DnsClock][] = [['performance.now fallback', performanceClock]];
  if (load.addon !== undefined) clocks.push(['udp-batch addon', nativeClock(load.addon)]);

  for (const [label, clock] of clocks) {
    void test(`${label}: a duration lies within the CLOCK_MONOTONIC readings around its ends`, async () => {
      const start = bracketed(clock);
      const s0 = clock.seconds();
      await pass(30_000n);
      const s1 = clock.seconds();
      const end = bracketed(clock);
      for (const v of [start.value, end.value]) assert.ok(Number.isInteger(v) && v >= 0 && v < MICROS_WRAP, `micros() ${v}`);
      const elapsed = elapsedMicros(start.value, end.value);
      // The shortest span the two readings can be apart, and the longest (±1 µs for each reading's rounding).
      const shortest = Number(end.before - start.after) - 1;
      const longest = Number(end.after - start.before) + 1;
      assert.ok(elapsed >= shortest && elapsed <= longest, `measured ${elapsed} µs; CLOCK_MONOTONIC says between ${shortest} and ${longest}`);
      assert.ok(Number.isInteger(s0) && Number.isInteger(s1));
      // Whole seconds: the seconds that began between the readings, give or take the one in progress.
      assert.ok(s1 - s0 >= Math.floor(shortest / 1e6) && s1 - s0 <= Math.ceil(longest / 1e6), `seconds ${s0} → ${s1} over ${shortest}–${longest} µs`);
    });
  }

  void test('the addon reads CLOCK_MONOTONIC itself: its readings fall between hrtime readings, not just its durations', () => {
    assert.ok(load.addon !== undefined, load.addon === undefined ? load.reason : '');
    const native = nativeClock(load.addon);
    for (let i = 0; i < 5; i++) {
      const { before, value, after } = bracketed(native);
      // The same clock read in µs modulo the wrap; `after` may have wrapped past `before`.
      assert.ok(elapsedMicros(wrap(before), value) <= elapsedMicros(wrap(before), wrap(after)), `clockMicros ${value} not between ${wrap(before)} and ${wrap(after)}`);
      const secondsBefore = Number(process.hrtime.bigint() / 1_000_000_000n);
      const seconds = load.addon.clockSeconds();
      const secondsAfter = Number(process.hrtime.bigint() / 1_000_000_000n);
      assert.ok(seconds >= secondsBefore && seconds <= secondsAfter, `clockSeconds ${seconds} not between ${secondsBefore} and ${secondsAfter}`);
    }
  });
});
