/**
 * UDP to one upstream server through a rotating pool of connected sockets (udp-port-pool.ts): each
 * query leaves from a socket picked at random, bound by the kernel to a random port of the ephemeral
 * range, that carries a bounded number of queries for a bounded time before a fresh one replaces it.
 * A socket per query pays socket, bind, connect, epoll and close calls on every forwarded query;
 * shared by a few queries, the port is as unknown to an off-path spoofer (who must still hit port,
 * ID and letter case at once) and no port stays in use for long. The sockets are
 * connected to the server, so only its address can answer and an ICMP port-unreachable fails the
 * queries waiting on that socket at once. A reply must be a response to a pending random ID of its
 * socket repeating that query's question exactly, letter case included while the server is known or
 * thought to echo it (name-case.ts).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { CASE_ONLY, SAME, compareQuestion, randomizeCase, type CaseLearner } from './name-case.js';
import { randomId } from './random-ids.js';
import { PortPool, type PooledPort } from './udp-port-pool.js';
import { answer, fail, isReplyTo, prepareWire, type SettleHook, type UpstreamQuery } from './upstream-query.js';
import { AgentError, ErrorCode } from '../errors.js';
import { HEADER, u16 } from './wire.js';

/** One connected socket of the pool, with the attempts waiting on it by their ID. */
class Port implements PooledPort {
  readonly socket: dgram.Socket;
  readonly byId = new Map<number, Exchange>();
  uses = 0;
  retired = false;
  /** Why it failed, if it did (a bind error may come before it takes its first query). */
  error: Error | undefined;
  private closed = false;

  constructor(
    lane: UdpLane,
    readonly openedAt: number,
  ) {
    this.socket = dgram.createSocket(lane.socketOptions);
    this.socket.on('message', (msg) => lane.onReply(this, msg));
    this.socket.on('error', (err) => lane.onError(this, err));
    // With an IP literal this completes at once; a bind error (EMFILE...) arrives through 'error'.
    this.socket.connect(lane.port, lane.host);
  }

  get waiting(): number {
    return this.byId.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

/** One attempt of one query: its socket, its ID, and whether its name went out in a random case. */
class Exchange {
  id = 0;
  randomized = false;
  /** Whether the name came out with an uppercase letter (only then does an exact echo prove anything). */
  upper = false;
  /** Sent again because a reply differed from the question only in case (CaseLearner). */
  confirming = false;
  /** A reply was dropped for its case. */
  mismatched = false;

  constructor(
    readonly port: Port,
    readonly q: UpstreamQuery,
  ) {}
}

export class UdpLane {
  readonly pending = new Set<Exchange>();
  /** The host is an IP literal: dgram's per-socket lookup answers at once. */
  readonly socketOptions: dgram.SocketOptions;
  private readonly pool: PortPool<Port>;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly hook: SettleHook,
    private readonly cases: CaseLearner,
  ) {
    const v6 = net.isIPv6(host);
    this.socketOptions = { type: v6 ? 'udp6' : 'udp4', lookup: (a, _o, cb) => cb(null, a, v6 ? 6 : 4) };
    this.pool = new PortPool((now) => new Port(this, now));
  }

  /** Sockets open (in the pool, or retired with attempts still waiting). */
  get sockets(): number {
    return this.pool.open;
  }

  send(q: UpstreamQuery, now: number, confirming = false): void {
    let port: Port;
    try {
      port = this.pool.take(now, randomId());
    } catch (err) {
      fail(q, err instanceof Error ? err : new AgentError(ErrorCode.DnsUpstreamFailed, String(err)), this.hook);
      return;
    }
    if (port.error !== undefined) {
      fail(q, port.error, this.hook);
      return;
    }
    const ex = new Exchange(port, q);
    ex.confirming = confirming;
    // A fresh random ID no other attempt on this socket waits under.
    do ex.id = prepareWire(q);
    while (port.byId.has(ex.id));
    if (this.cases.randomize(now)) {
      ex.randomized = true;
      ex.upper = randomizeCase(q.wire, q.questionEnd - 4);
    }
    port.byId.set(ex.id, ex);
    this.pending.add(ex);
    try {
      port.socket.send(q.wire);
    } catch (err) {
      this.onError(port, err instanceof Error ? err : new AgentError(ErrorCode.DnsUpstreamFailed, String(err)));
    }
  }

  onReply(port: Port, reply: Buffer): void {
    if (reply.length < HEADER) return;
    const ex = port.byId.get(u16(reply, 0));
    if (ex === undefined || !isReplyTo(reply, ex.id)) return;
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

  /** A socket error (an ICMP port-unreachable, a bind error) fails every attempt on that socket. */
  onError(port: Port, err: Error): void {
    port.error ??= err;
    this.pool.retire(port);
    for (const ex of [...port.byId.values()]) {
      this.end(ex);
      fail(ex.q, err, this.hook);
    }
  }

  /** Times out overdue attempts; closes idle sockets past their time. */
  sweep(now: number, timeout: (q: UpstreamQuery) => Error): void {
    for (const ex of this.pending) {
      if (ex.q.deadline > now) continue;
      if (ex.mismatched) this.cases.unanswered();
      this.end(ex);
      fail(ex.q, timeout(ex.q), this.hook);
    }
    this.pool.expire(now);
  }

  close(): void {
    for (const ex of [...this.pending]) {
      this.end(ex);
      fail(ex.q, new AgentError(ErrorCode.DnsUpstreamFailed, 'upstream closed'), this.hook);
    }
    this.pool.closeAll();
  }

  private end(ex: Exchange): void {
    this.pending.delete(ex);
    ex.port.byId.delete(ex.id);
    this.pool.settled(ex.port);
  }
}
