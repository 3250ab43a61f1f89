/**
 * UDP to one upstream server, one socket per attempt: each query leaves from a fresh source port
 * the kernel picks at random from the ephemeral range, so a port seen once (by a server an attacker
 * runs, say) is of no use for the next query. The socket is connected to the server, so only its
 * address can answer and an ICMP port-unreachable fails the attempt at once; it is closed as soon as
 * the attempt settles. A reply must be a response to our random ID repeating the question exactly,
 * letter case included while the server is known or thought to echo it (name-case.ts).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { CASE_ONLY, SAME, compareQuestion, randomizeCase, type CaseLearner } from './name-case.js';
import { answer, fail, isReplyTo, prepareWire, type SettleHook, type UpstreamQuery } from './upstream-query.js';
import { AgentError, ErrorCode } from '../errors.js';

/** One attempt of one query: its socket, its ID, and whether its name went out in a random case. */
class Exchange {
  readonly socket: dgram.Socket;
  id = 0;
  randomized = false;
  /** Whether the name came out with an uppercase letter (only then does an exact echo prove anything). */
  upper = false;
  /** Sent again because a reply differed from the question only in case (CaseLearner). */
  confirming = false;
  /** A reply was dropped for its case. */
  mismatched = false;
  done = false;

  constructor(
    readonly lane: UdpLane,
    readonly q: UpstreamQuery,
  ) {
    this.socket = dgram.createSocket(lane.socketOptions);
    this.socket.on('message', (msg) => lane.onReply(this, msg));
    this.socket.on('error', (err) => lane.onError(this, err));
  }
}

export class UdpLane {
  readonly pending = new Set<Exchange>();
  /** The host is an IP literal: dgram's per-socket lookup answers at once. */
  readonly socketOptions: dgram.SocketOptions;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly hook: SettleHook,
    private readonly cases: CaseLearner,
  ) {
    const v6 = net.isIPv6(host);
    this.socketOptions = { type: v6 ? 'udp6' : 'udp4', lookup: (a, _o, cb) => cb(null, a, v6 ? 6 : 4) };
  }

  send(q: UpstreamQuery, now: number, confirming = false): void {
    const ex = new Exchange(this, q);
    ex.confirming = confirming;
    ex.id = prepareWire(q);
    if (this.cases.randomize(now)) {
      ex.randomized = true;
      ex.upper = randomizeCase(q.wire, q.questionEnd - 4);
    }
    this.pending.add(ex);
    try {
      // With an IP literal both complete at once; a bind error (EMFILE...) arrives through onError.
      ex.socket.connect(this.port, this.host);
      if (!ex.done) ex.socket.send(q.wire);
    } catch (err) {
      this.onError(ex, err instanceof Error ? err : new AgentError(ErrorCode.DnsUpstreamFailed, String(err)));
    }
  }

  onReply(ex: Exchange, reply: Buffer): void {
    if (ex.done || !isReplyTo(reply, ex.id)) return;
    const q = ex.q;
    const match = compareQuestion(q.wire, reply, q.questionEnd);
    if (match === SAME) {
      if (ex.randomized) this.cases.echoed(ex.upper);
    } else if (match === CASE_ONLY && ex.randomized) {
      const verdict = this.cases.caseOnly(ex.confirming, Date.now());
      if (verdict === 'drop') {
        ex.mismatched = true;
        return;
      }
      if (verdict === 'confirm') {
        this.end(ex);
        this.send(q, Date.now(), true);
        return;
      }
    } else if (match !== CASE_ONLY) {
      return;
    }
    this.end(ex);
    answer(q, reply, this.hook);
  }

  onError(ex: Exchange, err: Error): void {
    if (ex.done) return;
    this.end(ex);
    fail(ex.q, err, this.hook);
  }

  /** Times out overdue attempts. */
  sweep(now: number, timeout: (q: UpstreamQuery) => Error): void {
    for (const ex of this.pending) {
      if (ex.q.deadline > now) continue;
      if (ex.mismatched) this.cases.unanswered();
      this.end(ex);
      fail(ex.q, timeout(ex.q), this.hook);
    }
  }

  close(): void {
    for (const ex of [...this.pending]) {
      this.end(ex);
      fail(ex.q, new AgentError(ErrorCode.DnsUpstreamFailed, 'upstream closed'), this.hook);
    }
  }

  private end(ex: Exchange): void {
    ex.done = true;
    this.pending.delete(ex);
    ex.socket.close();
  }
}
