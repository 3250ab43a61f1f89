/** Retry delays of the API client: exponential from 250 ms to 10 s, ±20 % jitter. Pure. */
import { backoffDelay as delay, type BackoffOptions } from '../agent/reconciler.js';

export type { BackoffOptions };

export const KUBE_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

/** Delay before retry number `attempt` (0-based): doubles each time, capped, with jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = KUBE_BACKOFF): number {
  return delay(attempt, options);
}
