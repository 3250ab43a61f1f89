/**
 * Forwarding to a group of servers (one `dns.forward` domain, or the default upstreams):
 * healthy servers first in configured order, an unhealthy one leads again after its back-off
 * (so it gets probed by real traffic); on a timeout, network error, SERVFAIL or REFUSED the next
 * server is tried. A truncated UDP reply is retried over TCP on the same server. When every
 * server fails the caller gets undefined and answers SERVFAIL — never NXDOMAIN (Istio #29673).
 */
import type { Upstream } from './upstream.js';
import { Rcode, TC, rcodeOf, u16 } from './wire.js';

export interface ForwardRequest {
  packet: Buffer;
  questionEnd: number;
  /** The client came over TCP (then we ask over TCP too: the reply may be large). */
  tcp: boolean;
}

/**
 * Whole-query budget across failovers: answer SERVFAIL before a stub resolver gives up on us
 * (glibc waits 5 s per try), rather than keep trying servers nobody is waiting for.
 */
export const QUERY_BUDGET_MS = 4500;

export class Forwarder {
  constructor(
    readonly upstreams: readonly Upstream[],
    private readonly timeoutMs: number,
    private readonly budgetMs = QUERY_BUDGET_MS,
  ) {}

  /** Servers in the order to try them now. */
  order(now: number): readonly Upstream[] {
    // The common case allocates nothing: every server healthy, configured order.
    if (this.upstreams.every((u) => u.healthy)) return this.upstreams;
    const ready = this.upstreams.filter((u) => u.healthy || now >= u.retryAt);
    const waiting = this.upstreams.filter((u) => !(u.healthy || now >= u.retryAt));
    return [...ready, ...waiting];
  }

  forward(req: ForwardRequest, done: (reply: Buffer | undefined, server?: string) => void): void {
    const now = Date.now();
    const order = this.order(now);
    let fallback: { reply: Buffer; server: string } | undefined;
    const attempt = (index: number): void => {
      const upstream = order[index];
      const left = now + this.budgetMs - Date.now();
      if (upstream === undefined || left < 50) {
        done(fallback?.reply, fallback?.server);
        return;
      }
      upstream.query(req.packet, req.questionEnd, req.tcp, Math.min(this.timeoutMs, left), Date.now(), (err, reply) => {
        if (err !== undefined || reply === undefined) {
          attempt(index + 1);
          return;
        }
        const rcode = rcodeOf(reply);
        if (rcode === Rcode.ServFail || rcode === Rcode.Refused) {
          fallback ??= { reply, server: upstream.server };
          attempt(index + 1);
          return;
        }
        if (!req.tcp && (u16(reply, 2) & TC) !== 0) {
          // Same server, over TCP; if that fails the truncated reply still tells the client to retry.
          upstream.query(req.packet, req.questionEnd, true, this.timeoutMs, Date.now(), (tcpErr, full) => {
            done(tcpErr === undefined && full !== undefined ? full : reply, upstream.server);
          });
          return;
        }
        done(reply, upstream.server);
      });
    };
    attempt(0);
  }

  sweep(now: number): void {
    for (const u of this.upstreams) u.sweep(now);
  }
}
