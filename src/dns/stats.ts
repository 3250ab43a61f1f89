/** Plain counters the hot path bumps (cheap); metrics.ts exposes them to Prometheus on scrape. */
export type AnswerSource = 'hosts' | 'mesh' | 'forward' | 'cache' | 'upstream' | 'error';
export const ANSWER_SOURCES: readonly AnswerSource[] = ['hosts', 'mesh', 'forward', 'cache', 'upstream', 'error'];
export const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;

/** Latency histogram bucket upper bounds, seconds. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
/** The same bounds in microseconds, what the hot path measures in (see clock.ts). */
export const LATENCY_BUCKETS_MICROS = LATENCY_BUCKETS.map((s) => Math.round(s * 1e6));

export class DnsStats {
  queries = 0;
  dropped = 0;
  truncated = 0;
  refusedOverload = 0;
  /** Forwarded queries that joined an identical one already out upstream (in-flight.ts). */
  coalesced = 0;
  readonly bySource: Record<AnswerSource, number> = { hosts: 0, mesh: 0, forward: 0, cache: 0, upstream: 0, error: 0 };
  /** Index = rcode (0-15). */
  readonly byRcode = new Array<number>(16).fill(0);
  /** Counts per bucket (cumulative on export); last slot is +Inf. */
  readonly latencyCounts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  /** Sum of all observed latencies, microseconds. */
  latencyMicros = 0;

  observe(micros: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_MICROS.length && micros > LATENCY_BUCKETS_MICROS[i]!) i++;
    this.latencyCounts[i]! += 1;
    this.latencyMicros += micros;
  }

  get latencySum(): number {
    return this.latencyMicros / 1e6;
  }

  rcodeName(rcode: number): string {
    return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
  }
}
