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
import { blockFor, localReply, localReplyLength, writeLocalReply, type RecordSet } from './records.js';
import { MEMO_TTLS_OVERFLOW, memoWord, sourceIndex } from './reply-memo.js';
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

/** An answer that did not come back from handle(): forwarded, or too big for the output room. */
export type Respond = (reply: Buffer) => void;

/** handle() wrote nothing and will not answer: the packet is dropped. */
export const DROPPED = 0;
/** handle() will answer (or has answered) through `respond`. */
export const ANSWER_LATER = -1;

/** The least output room handle() needs: the largest cached reply (error replies are smaller). */
export const MIN_OUTPUT_ROOM = MAX_CACHED_REPLY;
/** The largest DNS message (TCP's two-byte length): output room that never needs `respond`. */
export const MAX_MESSAGE = 65535;

const HOSTS_MEMO = memoWord(true, sourceIndex('hosts'), 0);
const MESH_MEMO = memoWord(true, sourceIndex('mesh'), 0);
const CACHE_MEMO = memoWord(false, sourceIndex('cache'), 0);

export class Resolver {
  inFlight = 0;
  /** Called when a query is forwarded while none was in flight (the controller starts its timeout sweeper). */
  onBusy: () => void = () => {};
  /**
   * What the native reply memo may keep of the answer the last handle() wrote (a memoWord without the
   * input slot), or 0: hosts and mesh answers until the epoch changes, cache hits until their entry
   * expires (the addon counts their TTLs down), nothing truncated, forwarded or failed.
   */
  memo = 0;
  /** Set by the batched listener during a batch: where a cache hit reports its TTLs for the memo. */
  memoTtls: Uint16Array | undefined = undefined;
  memoTtlBase = 0;
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
   * Handles the query in `packet[start, end)`. A synchronous reply is written at `out[at]`, which
   * has `room` bytes (at least MIN_OUTPUT_ROOM), and its length returned; or DROPPED; or
   * ANSWER_LATER, and `respond` is called exactly once (possibly before this returns).
   * `packet` and `out` are used only during this call: whatever outlives it is copied.
   */
  handle(packet: Buffer, start: number, end: number, tcp: boolean, out: Buffer, at: number, room: number, respond: Respond): number {
    const started = this.clock.micros();
    this.memo = 0;
    const stats = this.stats;
    stats.queries += 1;
    const parsed = parseQuery(packet, start, end, this.query);
    if (!isQuery(parsed)) {
      if (parsed.kind === 'drop') {
        stats.dropped += 1;
        return DROPPED;
      }
      return this.done(out, at, writeEmptyReply(out, at, packet, start, parsed.questionEnd, parsed.rcode, false), 'error', started);
    }
    const q = parsed;
    const limit = tcp ? MAX_MESSAGE : q.udpSize;
    const { hosts, mesh } = this.routes;
    const own = hosts.lookup(q.name);
    if (own !== undefined) return this.local(packet, start, q, own, out, at, room, limit, 'hosts', started, respond);
    const meshSet = mesh.lookup(q.name);
    if (meshSet !== undefined) return this.local(packet, start, q, meshSet, out, at, room, limit, 'mesh', started, respond);
    const ttls = this.memoTtls;
    const cachedLength = this.cache.getInto(q, packet, start, out, at, ttls, this.memoTtlBase);
    if (cachedLength >= 0) {
      const fitted = truncateInPlace(out, at, cachedLength, limit);
      if (fitted !== cachedLength) stats.truncated += 1;
      else if (ttls !== undefined && ttls[this.memoTtlBase] !== MEMO_TTLS_OVERFLOW) this.memo = CACHE_MEMO;
      return this.done(out, at, fitted, 'cache', started);
    }
    const domainForwarder = this.routes.forward.matchSubtree(q.name);
    const forwarder = domainForwarder ?? this.routes.upstream;
    const source: AnswerSource = domainForwarder === undefined ? 'upstream' : 'forward';
    if (forwarder === undefined || forwarder.upstreams.length === 0) {
      return this.done(out, at, writeEmptyReply(out, at, packet, start, q.questionEnd, Rcode.ServFail, q.edns), source, started);
    }
    if (this.inFlight >= this.maxInFlight) {
      stats.refusedOverload += 1;
      return this.done(out, at, writeEmptyReply(out, at, packet, start, q.questionEnd, Rcode.Refused, q.edns), 'error', started);
    }
    if (this.inFlight++ === 0) this.onBusy();
    // `packet` may be the listener's receive arena, reused by the next batch; `q` is reused too.
    const copy = Buffer.allocUnsafe(end - start);
    copyBytes(packet, start, end, copy, 0);
    const job = new ResolverJob(this, copy, q, tcp, limit, source, started, respond, forwarder);
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
  private local(packet: Buffer, start: number, q: Query, set: RecordSet, out: Buffer, at: number, room: number, limit: number, source: AnswerSource, started: number, respond: Respond): number {
    const block = blockFor(set, q.qtype, q.qclass);
    if (localReplyLength(q, block) > room) {
      // Hundreds of addresses for one name: rare enough to build a buffer for.
      this.later(this.fit(localReply(Buffer.from(packet.subarray(start, start + q.questionEnd)), q, block), limit), source, started, respond);
      return ANSWER_LATER;
    }
    const length = writeLocalReply(out, at, packet, start, q, block);
    const fitted = truncateInPlace(out, at, length, limit);
    if (fitted !== length) this.stats.truncated += 1;
    else this.memo = source === 'hosts' ? HOSTS_MEMO : MESH_MEMO;
    return this.done(out, at, fitted, source, started);
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

  private done(out: Buffer, at: number, length: number, source: AnswerSource, started: number): number {
    this.count(out[at + 3]! & 0xf, source, started);
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

  constructor(
    private readonly resolver: Resolver,
    packet: Buffer,
    q: Query,
    tcp: boolean,
    readonly limit: number,
    readonly source: AnswerSource,
    readonly started: number,
    readonly respond: Respond,
    readonly forwardTo: Forwarder,
  ) {
    super(packet, q.questionEnd, tcp);
    // `q` is reused by the next query: keep what is needed of it.
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
