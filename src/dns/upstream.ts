/**
 * One upstream server: a few long-lived connected UDP sockets (each on its own random source
 * port, chosen by the kernel) and one pipelined TCP connection, opened on demand. Queries are
 * forwarded as raw bytes with a fresh random ID; a reply is accepted only from the server's
 * address (the sockets are connected), for a pending ID, with the same question. Health is
 * tracked from outcomes.
 */
import { formatHostPort } from '../config/net-types.js';
import { TcpLane, UdpLane, UpstreamTimeout, fail, freeId, type SettleHook, type UpstreamQuery } from './upstream-lanes.js';

const UDP_LANES = 4;

export interface UpstreamHealth {
  server: string;
  healthy: boolean;
  consecutiveFailures: number;
  queries: number;
  failures: number;
  lastError?: string;
  /** Smoothed round-trip time of successful queries, ms. */
  rttMs?: number;
}

export class Upstream {
  readonly server: string;
  private readonly lanes: UdpLane[] = [];
  private readonly tcp: TcpLane;
  /** Health and round-trip time from every attempt's outcome, before the query hears of it. */
  private readonly hook: SettleHook = (q, err) => {
    if (err === undefined) this.succeeded(Date.now() - q.sentAt);
    else this.failed(err);
  };
  private next = 0;
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
    const onError = (err: Error): void => {
      this.lastError = err.message;
    };
    for (let i = 0; i < UDP_LANES; i++) this.lanes.push(new UdpLane(host, port, this.hook, onError));
    this.tcp = new TcpLane(host, port, this.hook);
  }

  static keyOf(host: string, port: number): string {
    return formatHostPort({ host, port });
  }

  /**
   * Sends `q.packet` under a fresh random ID (written into it) and tells `q.onUpstream` the outcome
   * once: the reply (client's ID restored) or an error.
   */
  query(q: UpstreamQuery, tcp: boolean, timeoutMs: number, now: number): void {
    const lane = tcp ? this.tcp : this.lanes[(this.next = (this.next + 1) % this.lanes.length)]!;
    const id = freeId(lane.pending);
    q.packet.writeUInt16BE(id, 0);
    q.deadline = now + timeoutMs;
    q.sentAt = now;
    this.queries += 1;
    lane.send(q, id);
  }

  /** Times out overdue queries (called by the forwarder's sweeper). */
  sweep(now: number): void {
    this.sweepLane(this.tcp, now);
    for (const lane of this.lanes) this.sweepLane(lane, now);
  }

  private sweepLane(lane: UdpLane | TcpLane, now: number): void {
    for (const [id, q] of lane.pending) {
      if (q.deadline > now) continue;
      lane.pending.delete(id);
      fail(q, new UpstreamTimeout(this.server), this.hook);
    }
  }

  get inFlight(): number {
    let n = this.tcp.pending.size;
    for (const lane of this.lanes) n += lane.pending.size;
    return n;
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
    };
  }

  close(): void {
    for (const lane of this.lanes) lane.close();
    this.tcp.close();
  }
}
