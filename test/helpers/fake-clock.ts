/** A manual clock for unit tests: time moves and timers fire only when the test says so. */
import type { Clock } from '../../src/agent/clock.js';

export class FakeClock implements Clock {
  time: number;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Delays of the pending timers from now. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.time);
  }

  /** Advances to the earliest timer and fires it; returns the delay it had from the old now. */
  fireNext(): number {
    const [id, timer] = [...this.timers.entries()].sort((a, b) => a[1].at - b[1].at)[0] ?? [];
    if (id === undefined || timer === undefined) throw new Error('no timer pending');
    const delay = timer.at - this.time;
    this.timers.delete(id);
    this.time = Math.max(this.time, timer.at);
    timer.fn();
    return delay;
  }
}

/**
 * Lets queued promise work run until `done` holds; fails after `turns` event-loop turns (no wall
 * time is involved, so a slow machine cannot make it flaky).
 */
export async function settleUntil(done: () => boolean, what: string, turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i += 1) {
    if (done()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`not reached after ${turns} event-loop turns: ${what}`);
}
