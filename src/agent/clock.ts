/**
 * Time and timers behind an interface, so a controller's schedule (rotation, resync, retry) runs on
 * a fake clock in unit tests.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch: timestamps, certificate validity. */
  now(): number;
  /** Monotonic milliseconds for durations; `now` when absent (fake clocks). */
  monotonic?(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer: (fn, ms) => {
    // A pending timer must not keep a stopping daemon (or a finished test) alive.
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
