import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MICROS_WRAP, elapsedMicros, nativeClock, performanceClock } from '../../src/dns/clock.js';
import { loadUdpBatch } from '../../src/dns/udp-batch.js';

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

void describe('dns clock', () => {
  void test('durations are taken modulo the wrap, so a reading past it still measures right', () => {
    assert.equal(elapsedMicros(100, 350), 250);
    assert.equal(elapsedMicros(MICROS_WRAP - 10, 5), 15);
    assert.equal(elapsedMicros(7, 7), 0);
  });

  for (const [label, clock] of [
    ['performance.now fallback', performanceClock],
    ...(loadUdpBatch().addon === undefined ? [] : [['udp-batch addon (CLOCK_MONOTONIC)', nativeClock(loadUdpBatch().addon!)] as const]),
  ] as const) {
    void test(`${label}: integers that advance with real time`, async () => {
      const m0 = clock.micros();
      const s0 = clock.seconds();
      await sleep(30);
      const m1 = clock.micros();
      assert.ok(Number.isInteger(m0) && Number.isInteger(m1) && m0 >= 0 && m0 < MICROS_WRAP);
      const elapsed = elapsedMicros(m0, m1);
      assert.ok(elapsed >= 25_000 && elapsed < 2_000_000, `30 ms sleep measured as ${elapsed} µs`);
      assert.ok(Number.isInteger(s0));
      assert.ok(clock.seconds() - s0 <= 1);
    });
  }

  void test('the addon clock is CLOCK_MONOTONIC: whole seconds since boot, as /proc/uptime counts', () => {
    const load = loadUdpBatch();
    assert.ok(load.addon !== undefined, load.addon === undefined ? load.reason : '');
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const seconds = load.addon.clockSeconds();
    assert.ok(Math.abs(seconds - uptime) <= 2, `clockSeconds ${seconds} vs uptime ${uptime}`);
  });
});
