/**
 * Forwarding to a group of servers (one `dns.forward` domain, or the default upstreams):
 * healthy servers first in configured order, an unhealthy one leads again after its back-off
 * (so it gets probed by real traffic); on a timeout, network error, SERVFAIL or REFUSED the next
 * server is tried. A truncated UDP reply is retried over TCP on the same server. When every
 * server fails the caller gets undefined and answers SERVFAIL — never NXDOMAIN (Istio #29673).
 */
import type { Upstream } from './upstream.js';
import type { UpstreamQuery } from './upstream-query.js';
import { Rcode, TC, rcodeOf, u16 } from './wire.js';

/**
 * Whole-query budget across failovers: answer SERVFAIL before a stub resolver gives up on us
 * (glibc waits 5 s per try), rather than keep trying servers nobody is waiting for.
 */
export const QUERY_BUDGET_MS = 4500;

const NONE: readonly Upstream[] = [];
const NO_BYTES = Buffer.alloc(0);

/**
 * One query on its way through a forwarder's servers, and its own pending record on whichever
 * server it waits on: one object per forwarded query, no closure per attempt. The caller
 * subclasses it with what it needs to answer the client, in finish().
 */
export abstract class ForwardJob implements UpstreamQuery {
  /** The bytes sent upstream (our ID and letter case, written per attempt); allocated when started. */
  wire: Buffer = NO_BYTES;
  deadline = 0;
  sentAt = 0;
  private forwarder: Forwarder | undefined;
  private order: readonly Upstream[] = NONE;
  private index = 0;
  private startedAt = 0;
  /** Set while the same server is asked again over TCP after a truncated UDP reply. */
  private truncated: Buffer | undefined;
  /** A SERVFAIL or REFUSED kept in case no server does better. */
  private fallback: Buffer | undefined;

  /** `packet` becomes the job's (it is not changed). */
  constructor(
    readonly packet: Buffer,
    readonly questionEnd: number,
    /** The client came over TCP (then we ask over TCP too: the reply may be large). */
    readonly tcp: boolean,
  ) {
  }

  /** The answer, or undefined when every server failed (the caller answers SERVFAIL); called once. */
  protected abstract finish(reply: Buffer | undefined): void;

  start(forwarder: Forwarder, now: number): void {
    this.forwarder = forwarder;
    this.wire = Buffer.allocUnsafe(this.packet.length);
    this.order = forwarder.order(now);
    this.startedAt = now;
    this.attempt(0);
  }

  onUpstream(err: Error | undefined, reply?: Buffer): void {
    if (this.truncated !== undefined) {
      // The TCP retry: if it fails, the truncated reply still tells the client to retry.
      const truncated = this.truncated;
      this.truncated = undefined;
      this.done(err === undefined && reply !== undefined ? reply : truncated);
      return;
    }
    if (err !== undefined || reply === undefined) {
      this.attempt(this.index + 1);
      return;
    }
    const rcode = rcodeOf(reply);
    if (rcode === Rcode.ServFail || rcode === Rcode.Refused) {
      this.fallback ??= reply;
      this.attempt(this.index + 1);
      return;
    }
    if (!this.tcp && (u16(reply, 2) & TC) !== 0) {
      // Same server, over TCP.
      this.truncated = reply;
      this.order[this.index]!.query(this, true, this.forwarder!.timeoutMs, Date.now());
      return;
    }
    this.done(reply);
  }

  private attempt(index: number): void {
    this.index = index;
    const upstream = this.order[index];
    const now = Date.now();
    const left = this.startedAt + this.forwarder!.budgetMs - now;
    if (upstream === undefined || left < 50) {
      this.done(this.fallback);
      return;
    }
    upstream.query(this, this.tcp, Math.min(this.forwarder!.timeoutMs, left), now);
  }

  private done(reply: Buffer | undefined): void {
    this.order = NONE;
    this.fallback = undefined;
    this.finish(reply);
  }
}

export class Forwarder {
  constructor(
    readonly upstreams: readonly Upstream[],
    readonly timeoutMs: number,
    readonly budgetMs = QUERY_BUDGET_MS,
  ) {}

  /** Servers in the order to try them now. */
  order(now: number): readonly Upstream[] {
    // The common case allocates nothing: every server healthy, configured order.
    let healthy = true;
    for (const u of this.upstreams) healthy &&= u.healthy;
    if (healthy) return this.upstreams;
    const ready = this.upstreams.filter((u) => u.healthy || now >= u.retryAt);
    const waiting = this.upstreams.filter((u) => !(u.healthy || now >= u.retryAt));
    return [...ready, ...waiting];
  }

  forward(job: ForwardJob): void {
    job.start(this, Date.now());
  }

  sweep(now: number): void {
    for (const u of this.upstreams) u.sweep(now);
  }
}
