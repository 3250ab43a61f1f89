/**
 * Entries the kernel refused, held back with exponential backoff (pure, injectable clock): a
 * refused peer or removal is retried when its delay expires, not on every event or resync, so a
 * kernel that keeps saying no never turns into a write loop. Delays double from 1 s up to 2 min;
 * the table only holds entries that are still wanted (the controller prunes it after each change).
 */
export interface BackoffEntry {
  key: string;
  attempts: number;
  /** When the next attempt is allowed (ms, same clock as `now`). */
  until: number;
  lastError: string;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const KERNEL_RETRY: BackoffOptions = { initialMs: 1000, maxMs: 120_000 };

export class RetryBackoff {
  private readonly entries = new Map<string, BackoffEntry>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly options: BackoffOptions = KERNEL_RETRY,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** An attempt failed: hold the entry for the next delay. */
  failed(key: string, error: string): void {
    const attempts = (this.entries.get(key)?.attempts ?? 0) + 1;
    const delay = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(attempts - 1, 30));
    this.entries.set(key, { key, attempts, until: this.now() + delay, lastError: error });
  }

  succeeded(key: string): void {
    this.entries.delete(key);
  }

  /** Whether the entry must not be attempted now. */
  held(key: string): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e.until > this.now();
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  entry(key: string): BackoffEntry | undefined {
    return this.entries.get(key);
  }

  /** Keys whose delay has expired (to retry now). */
  due(): string[] {
    const now = this.now();
    return [...this.entries.values()].filter((e) => e.until <= now).map((e) => e.key);
  }

  /** Milliseconds until the earliest held entry may be retried, or undefined when none is held. */
  nextInMs(): number | undefined {
    let next: number | undefined;
    for (const e of this.entries.values()) if (next === undefined || e.until < next) next = e.until;
    return next === undefined ? undefined : Math.max(0, next - this.now());
  }

  /** Drops entries no longer wanted. */
  retain(wanted: (key: string) => boolean): void {
    for (const key of this.entries.keys()) if (!wanted(key)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** The first `limit` entries, for status. */
  list(limit: number): (BackoffEntry & { retryInMs: number })[] {
    const now = this.now();
    return [...this.entries.values()].slice(0, limit).map((e) => ({ ...e, retryInMs: Math.max(0, e.until - now) }));
  }
}
