/** Retry delays of the API client: exponential from 250 ms to 10 s, ±20 % jitter. Pure. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** [0, 1) source; jitter spreads a fleet's reconnects after an API server restart. */
  random?: () => number;
}

export const KUBE_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

/** Delay before retry number `attempt` (0-based): doubles each time, capped, with jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = KUBE_BACKOFF): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const jitter = 0.8 + 0.4 * (options.random ?? Math.random)();
  return Math.round(Math.min(options.maxMs, base * jitter));
}
