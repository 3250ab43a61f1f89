/**
 * A manual clock for unit tests (the shape of ReconcilerClock and identity's Clock): timers fire
 * only when the test advances time, in due order, with the promise queue flushed after each one.
 */
export class FakeClock {
  time: number;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Delays (ms from now) of the armed timers, earliest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.time).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing each timer that falls due (and what they arm meanwhile). */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (let fired = 0; fired < 10_000; fired += 1) {
      await flush();
      const next = this.earliest();
      if (next === undefined || next[1].at > until) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fn();
    }
    this.time = until;
    await flush();
  }

  private earliest(): [number, { at: number; fn: () => void }] | undefined {
    let best: [number, { at: number; fn: () => void }] | undefined;
    for (const entry of this.timers) if (best === undefined || entry[1].at < best[1].at) best = entry;
    return best;
  }
}

/** Lets every promise continuation that is ready run (a few macrotask turns). */
export async function flush(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
