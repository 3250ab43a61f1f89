/**
 * Reconnect delays for etcd (pure): exponential from 100 ms, capped at 500 ms, with jitter. The
 * cap is what brings the agent back within a second of etcd answering again; while etcd is down
 * an attempt is one refused connection, so the cap costs etcd nothing it would notice.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** [0, 1) source; jitter spreads a fleet's reconnects after an etcd restart. */
  random?: () => number;
}

export const ETCD_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 500 };

/** Delay before retry number `attempt` (0-based): doubles each time, capped, ±20 % jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = ETCD_BACKOFF): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  const jitter = 0.8 + 0.4 * (options.random ?? Math.random)();
  return Math.round(Math.min(options.maxMs, base * jitter));
}
