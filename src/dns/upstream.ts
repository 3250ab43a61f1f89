/**
 * One upstream server: UDP from a rotating pool of sockets on random source ports, each used for a
 * bounded number of queries and a bounded time (upstream-udp.ts, udp-port-pool.ts), and one pipelined TCP connection opened on demand (upstream-tcp.ts). Queries are
 * forwarded as raw bytes under a fresh random ID and, over UDP, a random letter case while the server
 * echoes it (name-case.ts); a reply is accepted only from the server's address, as a response to that
 * ID with the same question. Health is tracked from outcomes.
 */
import { formatHostPort } from '../net/host-port.js';
import { CaseLearner, type CaseEcho } from './name-case.js';
import { TcpLane } from './upstream-tcp.js';
import { UpstreamTimeout, type SettleHook, type UpstreamQuery } from './upstream-query.js';
import { UdpLane } from './upstream-udp.js';

export interface UpstreamHealth {
  server: string;
  healthy: boolean;
  consecutiveFailures: number;
  queries: number;
  failures: number;
  lastError?: string;
  /** Smoothed round-trip time of successful queries, ms. */
  rttMs?: number;
  /** Whether the server echoes the question's letter case (0x20 on while unknown or yes). */
  caseEcho: CaseEcho;
  /** Replies whose name differed from the question only in letter case. */
  caseMismatches: number;
}

export class Upstream {
  readonly server: string;
  private readonly udp: UdpLane;
  private readonly tcp: TcpLane;
  private readonly cases = new CaseLearner();
  /** Health and round-trip time from every attempt's outcome, before the query hears of it. */
  private readonly hook: SettleHook = (q, err) => {
    if (err === undefined) this.succeeded(Date.now() - q.sentAt);
    else this.failed(err);
  };
  healthy = true;
  consecutiveFailures = 0;
  queries = 0;
  failures = 0;
  lastError: string | undefined;
  rttMs: number | undefined;
  /** When an unhealthy server may be tried first again. */
  retryAt = 0;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    this.server = Upstream.keyOf(host, port);
    this.udp = new UdpLane(host, port, this.hook, this.cases);
    this.tcp = new TcpLane(host, port, this.hook);
  }

  static keyOf(host: string, port: number): string {
    return formatHostPort({ host, port });
  }

  /**
   * Sends `q.packet` under a fresh random ID (in `q.wire`) and tells `q.onUpstream` the outcome
   * once: the reply (client's ID and question restored) or an error.
   */
  query(q: UpstreamQuery, tcp: boolean, timeoutMs: number, now: number): void {
    q.deadline = now + timeoutMs;
    q.sentAt = now;
    this.queries += 1;
    if (tcp) this.tcp.send(q);
    else this.udp.send(q, now);
  }

  /** Times out overdue queries (called by the forwarder's sweeper). */
  sweep(now: number): void {
    const timeout = (): Error => new UpstreamTimeout(this.server);
    this.tcp.sweep(now, timeout);
    this.udp.sweep(now, timeout);
  }

  get inFlight(): number {
    return this.tcp.pending.size + this.udp.pending.size;
  }

  /** UDP sockets open: the sweeper keeps running until idle ones past their time are closed. */
  get udpSockets(): number {
    return this.udp.sockets;
  }

  private succeeded(rtt: number): void {
    this.healthy = true;
    this.consecutiveFailures = 0;
    this.rttMs = this.rttMs === undefined ? rtt : this.rttMs * 0.9 + rtt * 0.1;
  }

  private failed(err: Error): void {
    this.failures += 1;
    this.consecutiveFailures += 1;
    this.lastError = err.message;
    this.healthy = false;
    // Back off before this server leads again: 1 s, 2 s, 4 s … up to 30 s.
    this.retryAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(this.consecutiveFailures - 1, 5));
  }

  health(): UpstreamHealth {
    return {
      server: this.server,
      healthy: this.healthy,
      consecutiveFailures: this.consecutiveFailures,
      queries: this.queries,
      failures: this.failures,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      ...(this.rttMs === undefined ? {} : { rttMs: Math.round(this.rttMs * 100) / 100 }),
      caseEcho: this.cases.echo,
      caseMismatches: this.cases.mismatches,
    };
  }

  close(): void {
    this.udp.close();
    this.tcp.close();
  }
}
