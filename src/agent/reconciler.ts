/**
 * The reconcile loop every controller shares: passes run one at a time; requests made while a pass
 * runs merge into the next one (`merge`); a burst of requests (kernel events) becomes one pass
 * (`requestSoon`, debounced); a failed pass is retried with capped exponential backoff and jitter,
 * and its work also rides along with whatever pass runs next; a periodic resync; counters and the
 * last pass for /status. Time is injected, so each rule is unit-tested on a fake clock.
 */

import { AgentError, ErrorCode } from '../errors.js';
import { systemClock, type Clock } from './clock.js';

/** The agent's one clock type (clock.ts), under the name the reconciler's users know. */
export type ReconcilerClock = Clock;
export { systemClock };

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** ± fraction of the delay, e.g. 0.2; spreads a fleet's retries. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, jitter: 0.2 };

/** Delay before retry after `failures` consecutive failures (≥ 1): doubling, jittered, never above maxMs. */
export function retryDelay(failures: number, policy: BackoffPolicy, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  const factor = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.round(Math.min(policy.maxMs, base * factor));
}

/** Reconnect backoff of a client (etcd, the Kubernetes API): attempts counted from 0, ±20 % jitter. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** [0, 1) source; jitter spreads a fleet's reconnects after a server restart. */
  random?: () => number;
}

/** Delay before retry number `attempt` (0-based): doubles each time, capped, ±20 % jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  return retryDelay(attempt + 1, { initialMs: options.initialMs, maxMs: options.maxMs, jitter: 0.2 }, options.random ?? Math.random);
}

/** What a request's promise resolves with; it never rejects. */
export type PassResult = { ok: true } | { ok: false; error: unknown };

/** One finished pass, handed to `onPass` (metrics, logs). */
export interface PassRecord<R> {
  request: R;
  ok: boolean;
  error?: unknown;
  /** Wall-clock ms when the pass finished. */
  at: number;
  ms: number;
  /** After a failure: when the work is retried unless another pass carries it first. */
  retryInMs?: number;
}

export interface ReconcilerOptions<R> {
  /** One pass; rejecting marks it failed. */
  run(request: R): Promise<void>;
  /** `next` folded into `pending` (requests made before the next pass starts). Must neither mutate its inputs nor throw. */
  merge(pending: R, next: R): R;
  /**
   * What a failed pass leaves to retry (default: the failed request itself); undefined: nothing
   * (the failure is still counted and reported, no retry is armed).
   */
  retryRequest?(failed: R): R | undefined;
  /** Periodic resync: a request every `everyMs` after the previous one finished (≤ 0: none). */
  resync?: { everyMs: number; request(): R };
  /** How long `requestSoon` collects a burst, from its first request (default 20 ms). */
  debounceMs?: number;
  backoff?: BackoffPolicy;
  clock?: ReconcilerClock;
  /** [0, 1) source for jitter. */
  random?: () => number;
  onPass?(record: PassRecord<R>): void;
}

export interface ReconcilerReport {
  passes: number;
  failures: number;
  consecutiveFailures: number;
  lastPass?: { at: string; ms: number; ok: boolean; error?: string };
  nextRetry?: { at: string; inMs: number };
}

interface Batch<R> {
  request: R;
  waiters: ((result: PassResult) => void)[];
}

const STOPPED: PassResult = { ok: false, error: new AgentError(ErrorCode.Cancelled, 'reconciler stopped') };

export class Reconciler<R> {
  private readonly clock: ReconcilerClock;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private running = false;
  private pending: Batch<R> | undefined;
  private draining: Promise<void> | undefined;
  /** Work of a failed pass, merged into the next pass. */
  private failed: R | undefined;
  private retryTimer: unknown;
  private retryAt: number | undefined;
  private soon: R | undefined;
  private soonTimer: unknown;
  private resyncTimer: unknown;
  private resyncEveryMs: number;
  private passes = 0;
  private failures = 0;
  private consecutive = 0;
  private last: ReconcilerReport['lastPass'];

  constructor(private readonly options: ReconcilerOptions<R>) {
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.resyncEveryMs = options.resync?.everyMs ?? 0;
  }

  /** Accepts requests and arms the periodic resync. */
  start(): void {
    this.running = true;
    this.armResync();
  }

  /** Stops timers, drops what is queued (its promises resolve not ok) and waits for a running pass. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of [this.retryTimer, this.soonTimer, this.resyncTimer]) if (t !== undefined) this.clock.clearTimer(t);
    this.retryTimer = this.soonTimer = this.resyncTimer = undefined;
    this.retryAt = undefined;
    this.soon = undefined;
    this.failed = undefined;
    const dropped = this.pending;
    this.pending = undefined;
    for (const w of dropped?.waiters ?? []) w(STOPPED);
    await this.draining;
  }

  /** Queues `request` (merged into a queued one); resolves when the pass that carried it has finished. */
  request(request: R): Promise<PassResult> {
    if (!this.running) return Promise.resolve(STOPPED);
    return new Promise((resolve) => {
      if (this.pending === undefined) this.pending = { request, waiters: [resolve] };
      else {
        this.pending.request = this.options.merge(this.pending.request, request);
        this.pending.waiters.push(resolve);
      }
      this.draining ??= this.drain();
    });
  }

  /** Like request, but a burst within debounceMs of its first request becomes one request. */
  requestSoon(request: R): void {
    if (!this.running) return;
    this.soon = this.soon === undefined ? request : this.options.merge(this.soon, request);
    this.soonTimer ??= this.clock.setTimer(() => {
      this.soonTimer = undefined;
      const burst = this.soon;
      this.soon = undefined;
      if (burst !== undefined) void this.request(burst);
    }, this.options.debounceMs ?? 20);
  }

  /** A new resync period (a reload), counted from now. */
  setResync(everyMs: number): void {
    this.resyncEveryMs = everyMs;
    this.armResync();
  }

  /** Resolves when no pass is running or queued. */
  async settled(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  /** Whether the last pass succeeded (undefined before the first). */
  get lastOk(): boolean | undefined {
    return this.last?.ok;
  }

  report(): ReconcilerReport {
    return {
      passes: this.passes,
      failures: this.failures,
      consecutiveFailures: this.consecutive,
      ...(this.last === undefined ? {} : { lastPass: { ...this.last } }),
      ...(this.retryAt === undefined ? {} : { nextRetry: { at: new Date(this.retryAt).toISOString(), inMs: Math.max(0, Math.round(this.retryAt - this.clock.now())) } }),
    };
  }

  private async drain(): Promise<void> {
    // Never finish synchronously (`draining` is assigned after this returns), and let requests
    // made in the same tick join the first pass.
    await Promise.resolve();
    try {
      while (this.pending !== undefined && this.running) {
        const batch = this.pending;
        this.pending = undefined;
        let request = batch.request;
        if (this.failed !== undefined) {
          request = this.options.merge(this.failed, request);
          this.failed = undefined;
        }
        const result = await this.pass(request);
        for (const w of batch.waiters) w(result);
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async pass(request: R): Promise<PassResult> {
    const mono = (): number => this.clock.monotonic?.() ?? this.clock.now();
    const started = mono();
    let result: PassResult;
    try {
      await this.options.run(request);
      result = { ok: true };
    } catch (error) {
      result = { ok: false, error };
    }
    const ms = Math.round((mono() - started) * 10) / 10;
    const at = this.clock.now();
    this.passes += 1;
    let retryInMs: number | undefined;
    if (result.ok) {
      this.consecutive = 0;
      this.clearRetry();
    } else {
      this.failures += 1;
      this.consecutive += 1;
      const again = this.options.retryRequest === undefined ? request : this.options.retryRequest(request);
      // Stopped meanwhile: stop() has dropped the queue, so nothing is kept for a later start.
      if (again !== undefined && this.running) {
        this.failed = this.failed === undefined ? again : this.options.merge(this.failed, again);
        retryInMs = this.armRetry();
      }
    }
    this.last = { at: new Date(at).toISOString(), ms, ok: result.ok, ...(result.ok ? {} : { error: messageOf(result.error) }) };
    try {
      this.options.onPass?.({ request, ok: result.ok, ...(result.ok ? {} : { error: result.error }), at, ms, ...(retryInMs === undefined ? {} : { retryInMs }) });
    } catch {
      // A reporting hook must not stop the loop.
    }
    return result;
  }

  private armRetry(): number {
    this.clearRetry();
    const delay = retryDelay(this.consecutive, this.backoff, this.random);
    this.retryAt = this.clock.now() + delay;
    this.retryTimer = this.clock.setTimer(() => {
      this.retryTimer = undefined;
      this.retryAt = undefined;
      const work = this.failed;
      this.failed = undefined;
      if (work !== undefined) void this.request(work);
    }, delay);
    return delay;
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) this.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.retryAt = undefined;
  }

  private armResync(): void {
    if (this.resyncTimer !== undefined) this.clock.clearTimer(this.resyncTimer);
    this.resyncTimer = undefined;
    const resync = this.options.resync;
    if (!this.running || resync === undefined || this.resyncEveryMs <= 0) return;
    this.resyncTimer = this.clock.setTimer(() => {
      this.resyncTimer = undefined;
      void this.request(resync.request()).then(() => {
        // Re-arm after the pass, unless setResync (or stop) has armed (or cleared) it meanwhile.
        if (this.resyncTimer === undefined) this.armResync();
      });
    }, this.resyncEveryMs);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
