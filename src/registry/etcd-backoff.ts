/**
 * Reconnect delays for etcd (pure): exponential from 100 ms, capped at 500 ms, with jitter. The
 * cap is what brings the agent back within a second of etcd answering again; while etcd is down
 * an attempt is one refused connection, so the cap costs etcd nothing it would notice.
 */
import { backoffDelay as delay, type BackoffOptions } from '../agent/reconciler.js';

export type { BackoffOptions };

export const ETCD_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 500 };

/** Delay before retry number `attempt` (0-based): doubles each time, capped, ±20 % jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = ETCD_BACKOFF): number {
  return delay(attempt, options);
}
