/**
 * Time and timers behind an interface, so a controller's schedule (rotation, resync, retry) runs on
 * a fake clock in unit tests.
 */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    // A pending timer must not keep a stopping daemon (or a finished test) alive.
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
