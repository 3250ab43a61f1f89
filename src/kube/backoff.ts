/** Retry delays of the API client: exponential from 250 ms to 10 s, ±20 % jitter. Pure. */
import { retryDelay } from '../agent/reconciler.js';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** [0, 1) source; jitter spreads a fleet's reconnects after an API server restart. */
  random?: () => number;
}

export const KUBE_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

/** Delay before retry number `attempt` (0-based): doubles each time, capped, with jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = KUBE_BACKOFF): number {
  return retryDelay(attempt + 1, { initialMs: options.initialMs, maxMs: options.maxMs, jitter: 0.2 }, options.random ?? Math.random);
}
