/**
 * The answering pipeline for one query: validate, then dns.hosts, the mesh name table, the
 * cache, dns.forward domains, the default upstreams. Local answers and cache hits are produced
 * synchronously from pre-encoded bytes; forwarded ones call back later. Every UDP reply is fitted
 * to the client's size. Nothing here throws on bad input: malformed packets are dropped or get
 * FORMERR.
 */
import { performance } from 'node:perf_hooks';
import { DnsCache } from './cache.js';
import type { Forwarder } from './forwarder.js';
import type { HostsTable } from './hosts-table.js';
import type { MeshTable } from './mesh-table.js';
import { matchSubtree } from './names.js';
import { blockFor, localReply } from './records.js';
import type { AnswerSource, DnsStats } from './stats.js';
import { fitReply } from './truncate.js';
import { Rcode, emptyReply, isQuery, parseQuery } from './wire.js';

export interface Routes {
  hosts: HostsTable;
  mesh: MeshTable;
  /** dns.forward domain → its servers. */
  forward: ReadonlyMap<string, Forwarder>;
  /** Everything else; undefined when no upstream is known (answers SERVFAIL). */
  upstream: Forwarder | undefined;
}

export type Respond = (reply: Buffer) => void;

export class Resolver {
  inFlight = 0;

  constructor(
    public routes: Routes,
    readonly cache: DnsCache,
    readonly stats: DnsStats,
    public maxInFlight: number,
  ) {}

  /**
   * Handles one packet; `respond` is called exactly once unless this returns false (dropped).
   * `packet` is only read during this call: whatever outlives it is copied.
   */
  handle(packet: Buffer, tcp: boolean, respond: Respond): boolean {
    const started = performance.now();
    this.stats.queries += 1;
    const parsed = parseQuery(packet);
    if (!isQuery(parsed)) {
      if (parsed.kind === 'drop') {
        this.stats.dropped += 1;
        return false;
      }
      this.finish(emptyReply(packet, parsed.questionEnd, parsed.rcode, false), 'error', started, respond);
      return true;
    }
    const q = parsed;
    const limit = tcp ? 65535 : q.udpSize;
    const { hosts, mesh } = this.routes;
    const own = hosts.lookup(q.name);
    if (own !== undefined) {
      this.finish(fitReply(localReply(packet, q, blockFor(own, q.qtype, q.qclass)), limit), 'hosts', started, respond);
      return true;
    }
    const meshSet = mesh.lookup(q.name);
    if (meshSet !== undefined) {
      this.finish(fitReply(localReply(packet, q, blockFor(meshSet, q.qtype, q.qclass)), limit), 'mesh', started, respond);
      return true;
    }
    const key = DnsCache.key(q);
    const cached = this.cache.get(key, packet, q);
    if (cached !== undefined) {
      this.finish(this.fit(cached, limit), 'cache', started, respond);
      return true;
    }
    const domainForwarder = matchSubtree(this.routes.forward, q.name);
    const forwarder = domainForwarder ?? this.routes.upstream;
    const source: AnswerSource = domainForwarder === undefined ? 'upstream' : 'forward';
    if (forwarder === undefined || forwarder.upstreams.length === 0) {
      this.finish(emptyReply(packet, q.questionEnd, Rcode.ServFail, q.edns), source, started, respond);
      return true;
    }
    if (this.inFlight >= this.maxInFlight) {
      this.stats.refusedOverload += 1;
      this.finish(emptyReply(packet, q.questionEnd, Rcode.Refused, q.edns), 'error', started, respond);
      return true;
    }
    this.inFlight += 1;
    // `packet` may be a view into the listener's receive arena, reused by the next batch.
    const query = Buffer.from(packet);
    forwarder.forward({ packet: query, questionEnd: q.questionEnd, tcp }, (reply) => {
      this.inFlight -= 1;
      if (reply === undefined) {
        this.finish(emptyReply(query, q.questionEnd, Rcode.ServFail, q.edns), source, started, respond);
        return;
      }
      this.cache.put(key, reply);
      this.finish(this.fit(reply, limit), source, started, respond);
    });
    return true;
  }

  private fit(reply: Buffer, limit: number): Buffer {
    const out = fitReply(reply, limit);
    if (out !== reply) this.stats.truncated += 1;
    return out;
  }

  private finish(reply: Buffer, source: AnswerSource, started: number, respond: Respond): void {
    const stats = this.stats;
    stats.bySource[source] += 1;
    stats.byRcode[reply.length > 3 ? reply[3]! & 0xf : 0]! += 1;
    stats.observe((performance.now() - started) / 1000);
    respond(reply);
  }
}

