/**
 * The answering pipeline for one query: validate, then dns.hosts, the mesh name table, the
 * cache, dns.forward domains, the default upstreams. Local answers and cache hits are written
 * synchronously, straight into the caller's output buffer; forwarded ones call back later. Every
 * UDP reply is fitted to the client's size. Nothing here throws on bad input: malformed packets
 * are dropped or get FORMERR.
 *
 * The synchronous path allocates nothing once a name has been seen: no Query object, no name string
 * (name-intern.ts), no cache key, no reply buffer, no views, no parent-domain slices, no heap number
 * for the time (clock.ts). At tens of thousands of queries a second, garbage is what
 * sets how often the young generation is collected, and each collection is a pause every query
 * behind it waits out.
 */
import { AnswerEpoch } from './answer-epoch.js';
import { MAX_CACHED_REPLY, type CacheKey, type DnsCache } from './cache.js';
import { elapsedMicros, performanceClock, type DnsClock } from './clock.js';
import { ForwardJob, type Forwarder } from './forwarder.js';
import type { HostsTable } from './hosts-table.js';
import { InFlightQueries, type Coalescable } from './in-flight.js';
import type { MeshTable } from './mesh-table.js';
import type { DomainTable } from './names.js';
import type { LocalSource, QueryContext, Respond } from './query-context.js';
import { blockFor, localReply, localReplyLength, writeLocalReply, type RecordSet } from './records.js';
import type { AnswerSource, DnsStats } from './stats.js';
import { fitReply, truncateInPlace } from './truncate.js';
import { restoreQuestion } from './name-case.js';
import { Rcode, blankQuery, copyBytes, emptyReply, isQuery, parseQuery, writeEmptyReply, type Query } from './wire.js';

export interface Routes {
  hosts: HostsTable;
  mesh: MeshTable;
  /** dns.forward domain → its servers. */
  forward: DomainTable<Forwarder>;
  /** Everything else; undefined when no upstream is known (answers SERVFAIL). */
  upstream: Forwarder | undefined;
}

/** handle() wrote nothing and will not answer: the packet is dropped. */
export const DROPPED = 0;
/** handle() will answer (or has answered) through `ctx.respond`. */
export const ANSWER_LATER = -1;

/** The least output room handle() needs: the largest cached reply (error replies are smaller). */
export const MIN_OUTPUT_ROOM = MAX_CACHED_REPLY;
/** The largest DNS message (TCP's two-byte length): output room that never needs `respond`. */
export const MAX_MESSAGE = 65535;

export class Resolver {
  inFlight = 0;
  /** Called when a query is forwarded while none was in flight (the controller starts its timeout sweeper). */
  onBusy: () => void = () => {};
  /** Parsed into for every query; forwarded queries copy the fields they need. */
  private readonly query: Query = blankQuery();
  /** Forwarded queries out upstream; identical ones join them (in-flight.ts). */
  private readonly waiting = new InFlightQueries<ResolverJob>();
  private current: Routes;

  constructor(
    routes: Routes,
    readonly cache: DnsCache,
    readonly stats: DnsStats,
    public maxInFlight: number,
    private readonly clock: DnsClock = performanceClock,
    /** Bumped whenever the routes change (the cache bumps it when flushed). */
    readonly epoch: AnswerEpoch = new AnswerEpoch(),
  ) {
    this.current = routes;
  }

  get routes(): Routes {
    return this.current;
  }

  set routes(routes: Routes) {
    this.current = routes;
    this.epoch.bump();
  }

  /**
   * Handles the query `ctx.packet[ctx.start, ctx.end)`. A synchronous reply is written at
   * `ctx.out[ctx.at]`, which has `ctx.room` bytes (at least MIN_OUTPUT_ROOM), and its length returned;
   * or DROPPED; or ANSWER_LATER, and `ctx.respond` is called exactly once (possibly before this
   * returns). A reply written whole from hosts, mesh or the cache is reported to `ctx.memo`, if any.
   * The buffers are used only during this call: whatever outlives it is copied.
   */
  handle(ctx: QueryContext): number {
    const started = this.clock.micros();
    ctx.started = started;
    const stats = this.stats;
    stats.queries += 1;
    const { packet, start } = ctx;
    const parsed = parseQuery(packet, start, ctx.end, this.query);
    if (!isQuery(parsed)) {
      if (parsed.kind === 'drop') {
        stats.dropped += 1;
        return DROPPED;
      }
      return this.done(ctx, writeEmptyReply(ctx.out, ctx.at, packet, start, parsed.questionEnd, parsed.rcode, false), 'error');
    }
    const q = parsed;
    ctx.limit = ctx.tcp ? MAX_MESSAGE : q.udpSize;
    const { hosts, mesh } = this.routes;
    const own = hosts.lookup(q.name);
    if (own !== undefined) return this.local(ctx, q, own, 'hosts');
    const meshSet = mesh.lookup(q.name);
    if (meshSet !== undefined) return this.local(ctx, q, meshSet, 'mesh');
    const memo = ctx.memo;
    const { out, at } = ctx;
    const cachedLength = this.cache.getInto(q, packet, start, out, at, memo?.ttls, memo?.ttlBase);
    if (cachedLength >= 0) {
      const fitted = truncateInPlace(out, at, cachedLength, ctx.limit);
      if (fitted !== cachedLength) stats.truncated += 1;
      else memo?.keepCacheHit();
      return this.done(ctx, fitted, 'cache');
    }
    const domainForwarder = this.routes.forward.matchSubtree(q.name);
    const forwarder = domainForwarder ?? this.routes.upstream;
    const source: AnswerSource = domainForwarder === undefined ? 'upstream' : 'forward';
    if (forwarder === undefined || forwarder.upstreams.length === 0) {
      return this.done(ctx, writeEmptyReply(out, at, packet, start, q.questionEnd, Rcode.ServFail, q.edns), source);
    }
    if (this.inFlight >= this.maxInFlight) {
      stats.refusedOverload += 1;
      return this.done(ctx, writeEmptyReply(out, at, packet, start, q.questionEnd, Rcode.Refused, q.edns), 'error');
    }
    if (this.inFlight++ === 0) this.onBusy();
    // `packet` may be the listener's receive arena, reused by the next batch; `q` and `ctx` are reused too.
    const copy = Buffer.allocUnsafe(ctx.end - start);
    copyBytes(packet, start, ctx.end, copy, 0);
    const job = new ResolverJob(this, copy, q, ctx, source, forwarder);
    const leader = this.waiting.find(job);
    if (leader !== undefined) {
      stats.coalesced += 1;
      (leader.followers ??= []).push(job);
      return ANSWER_LATER;
    }
    this.waiting.add(job);
    forwarder.forward(job);
    return ANSWER_LATER;
  }

  /** A forwarded query's answer (undefined: every server failed), and the same for the queries that joined it. */
  answerForwarded(job: ResolverJob, reply: Buffer | undefined): void {
    this.waiting.remove(job);
    const followers = job.followers;
    job.followers = undefined;
    if (reply !== undefined) this.cache.put(job, reply);
    if (followers !== undefined) {
      for (const f of followers) {
        let own: Buffer | undefined;
        if (reply !== undefined) {
          // Its own copy: its ID and spelling of the name (the same length: the same name).
          own = Buffer.from(reply);
          restoreQuestion(f.packet, own, f.questionEnd);
          own[0] = f.packet[0]!;
          own[1] = f.packet[1]!;
        }
        this.answerOne(f, own);
      }
    }
    this.answerOne(job, reply);
  }

  private answerOne(job: ResolverJob, reply: Buffer | undefined): void {
    this.inFlight -= 1;
    if (reply === undefined) this.later(emptyReply(job.packet, job.questionEnd, Rcode.ServFail, job.edns), job.source, job.started, job.respond);
    else this.later(this.fit(reply, job.limit), job.source, job.started, job.respond);
  }

  /** A hosts or mesh answer: written in place when it fits the room, else built and sent through `respond`. */
  private local(ctx: QueryContext, q: Query, set: RecordSet, source: LocalSource): number {
    const block = blockFor(set, q.qtype, q.qclass);
    const { packet, start, out, at } = ctx;
    if (localReplyLength(q, block) > ctx.room) {
      // Hundreds of addresses for one name: rare enough to build a buffer for.
      this.later(this.fit(localReply(Buffer.from(packet.subarray(start, start + q.questionEnd)), q, block), ctx.limit), source, ctx.started, ctx.respond);
      return ANSWER_LATER;
    }
    const length = writeLocalReply(out, at, packet, start, q, block);
    const fitted = truncateInPlace(out, at, length, ctx.limit);
    if (fitted !== length) this.stats.truncated += 1;
    else ctx.memo?.keepLocal(source);
    return this.done(ctx, fitted, source);
  }

  private fit(reply: Buffer, limit: number): Buffer {
    const out = fitReply(reply, limit);
    if (out !== reply) this.stats.truncated += 1;
    return out;
  }

  private count(rcode: number, source: AnswerSource, started: number): void {
    const stats = this.stats;
    stats.bySource[source] += 1;
    stats.byRcode[rcode]! += 1;
    stats.observe(elapsedMicros(started, this.clock.micros()));
  }

  private done(ctx: QueryContext, length: number, source: AnswerSource): number {
    this.count(ctx.out[ctx.at + 3]! & 0xf, source, ctx.started);
    return length;
  }

  private later(reply: Buffer, source: AnswerSource, started: number, respond: Respond): void {
    this.count(reply.length > 3 ? reply[3]! & 0xf : 0, source, started);
    respond(reply);
  }
}

/**
 * What the resolver needs to answer a forwarded query (and cache its reply), carried by the forwarding
 * job itself; a query that joined an identical one out upstream waits as one of its `followers`.
 */
class ResolverJob extends ForwardJob implements CacheKey, Coalescable<ResolverJob> {
  readonly edns: boolean;
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  readonly cacheFlags: number;
  sameName: ResolverJob | undefined = undefined;
  followers: ResolverJob[] | undefined = undefined;

  readonly limit: number;
  readonly started: number;
  readonly respond: Respond;

  constructor(
    private readonly resolver: Resolver,
    packet: Buffer,
    q: Query,
    ctx: QueryContext,
    readonly source: AnswerSource,
    readonly forwardTo: Forwarder,
  ) {
    super(packet, q.questionEnd, ctx.tcp);
    // `q` and `ctx` are reused by the next query: keep what is needed of them.
    this.limit = ctx.limit;
    this.started = ctx.started;
    this.respond = ctx.respond;
    this.edns = q.edns;
    this.name = q.name;
    this.qtype = q.qtype;
    this.qclass = q.qclass;
    this.cacheFlags = q.cacheFlags;
  }

  protected finish(reply: Buffer | undefined): void {
    this.resolver.answerForwarded(this, reply);
  }
}
