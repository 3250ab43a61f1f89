/**
 * Time for the DNS hot path, as small integers. Every query is timed (the latency histogram) and
 * every cache hit ages its entry; with performance.now() and Date.now() that was a heap number or
 * two per query, garbage that set how often the young generation is collected (a pause that every
 * query behind it waits out). The udp-batch addon reads CLOCK_MONOTONIC and hands back integers V8
 * keeps unboxed; without the addon, the same contract comes from performance.now().
 */
import { performance } from 'node:perf_hooks';

/** The micros() counter wraps here: durations are taken modulo 2^30 µs (about 17.9 minutes). */
export const MICROS_WRAP = 0x40000000;

export interface DnsClock {
  /** Monotonic microseconds modulo MICROS_WRAP: only for durations (elapsedMicros). */
  readonly micros: () => number;
  /** Monotonic whole seconds from a fixed origin: cache ages and expiry. */
  readonly seconds: () => number;
}

/** Microseconds from `from` to `to`, two micros() readings less than ~17.9 minutes apart. */
export function elapsedMicros(from: number, to: number): number {
  return (to - from) & (MICROS_WRAP - 1);
}

/** The fallback: correct, but each reading is a heap number (Node 20: an array too). */
export const performanceClock: DnsClock = {
  micros: () => Math.floor(performance.now() * 1000) & (MICROS_WRAP - 1),
  seconds: () => Math.floor(performance.now() / 1000),
};

/** The clock functions of the udp-batch addon (native/udp-batch/udp_batch.c). */
export interface NativeClock {
  clockMicros(): number;
  clockSeconds(): number;
}

export function nativeClock(addon: NativeClock): DnsClock {
  return { micros: () => addon.clockMicros(), seconds: () => addon.clockSeconds() };
}
