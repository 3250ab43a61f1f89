/**
 * The resolver's request/response context and the reply memo's narrow interface: one context reused
 * for queries of every kind carries nothing from one to the next (a forwarded query's answer still
 * reaches its own client after the context moved on), and the resolver tells a MemoSink exactly the
 * answers it wrote whole: hosts, mesh and cache hits (with their TTL report), never a truncated,
 * failed, forwarded or oversized one. SlotMemo turns that into the addon's memo words.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Packet } from 'dns2';
import { DnsCache } from '../../src/dns/cache.js';
import { performanceClock } from '../../src/dns/clock.js';
import { Forwarder } from '../../src/dns/forwarder.js';
import { HostsTable } from '../../src/dns/hosts-table.js';
import { MeshTable } from '../../src/dns/mesh-table.js';
import { DomainTable } from '../../src/dns/names.js';
import { QueryContext, type LocalSource, type MemoSink } from '../../src/dns/query-context.js';
import { MEMO_TTL_FIRST, MEMO_TTL_WORDS, MEMO_TTLS_MAX, MEMO_TTLS_OVERFLOW, SlotMemo, memoWord, sourceIndex } from '../../src/dns/reply-memo.js';
import { ANSWER_LATER, MIN_OUTPUT_ROOM, Resolver, type Routes } from '../../src/dns/resolver.js';
import { DnsStats } from '../../src/dns/stats.js';
import { UDP_BATCH_LAYOUT as L } from '../../src/dns/udp-batch-layout.js';
import { Upstream } from '../../src/dns/upstream.js';
import { buildQuery, parseQuery, QType, Rcode, type Query } from '../../src/dns/wire.js';
import { waitFor } from '../helpers/exec.js';

const many = Array.from({ length: 60 }, (_, i) => `10.9.0.${i + 1}`);

function routes(upstream?: Forwarder): Routes {
  const hosts = HostsTable.build(
    [
      { name: 'istio-pilot', addresses: ['192.168.0.62'] },
      { name: 'big.example', addresses: many },
    ],
    30,
  );
  const mesh = MeshTable.fromHosts([{ host: 'svc1.ns1.global', addresses: ['240.0.0.2'], allocated: false }], 30);
  return { hosts, mesh, forward: new DomainTable(), upstream };
}

function resolverWith(upstream?: Forwarder): Resolver {
  return new Resolver(routes(upstream), new DnsCache(100, { maxTTL: 3600, negativeTTL: 30 }), new DnsStats(), 16);
}

/** An upstream answer for `name` (`records` A records 10.1.2.n with `ttl`), put in the cache as forwarding would. */
function cacheAnswer(cache: DnsCache, name: string, ttl: number, records = 1): void {
  const query = buildQuery(1, name, QType.A);
  const answers = Array.from({ length: records }, (_, n) => Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, ttl, 0, 4, 10, 1, 2, n]));
  const reply = Buffer.concat([query, ...answers]);
  reply.writeUInt16BE(0x8180, 2);
  reply.writeUInt16BE(records, 6);
  cache.put(parseQuery(query) as Query, reply);
}

/** A MemoSink that writes down what it is told. */
class RecordingSink implements MemoSink {
  readonly ttls = new Uint16Array(4 * MEMO_TTL_WORDS);
  ttlBase = MEMO_TTL_WORDS;
  kept: string[] = [];

  keepLocal(source: LocalSource): void {
    this.kept.push(source);
  }

  keepCacheHit(): void {
    this.kept.push('cache');
  }
}

void describe('dns query context: one object per server, reused for every query', () => {
  void test('answers of every kind, one after another through one context, each to its own room and size', () => {
    const r = resolverWith();
    cacheAnswer(r.cache, 'cached.example', 60);
    const out = Buffer.alloc(3 * MIN_OUTPUT_ROOM);
    const later: Buffer[] = [];
    const ctx = new QueryContext({ tcp: false, out, room: MIN_OUTPUT_ROOM, respond: (reply) => later.push(reply) });
    const arena = Buffer.alloc(1024);
    const ask = (query: Buffer, inAt: number, outAt: number): Buffer | number => {
      query.copy(arena, inAt);
      ctx.at = outAt;
      const written = r.handle(ctx.request(arena, inAt, inAt + query.length));
      return written > 0 ? Buffer.from(out.subarray(outAt, outAt + written)) : written;
    };
    const hosts = ask(buildQuery(1, 'istio-pilot', QType.A, { ednsSize: 4096 }), 0, 0) as Buffer;
    assert.deepEqual(Packet.parse(hosts).answers.map((a) => a.address), ['192.168.0.62']);
    assert.equal(Packet.parse(hosts).additionals.length, 1, 'OPT for an EDNS client');
    // The next client has no EDNS: its limit is 512, whatever the last one's was.
    const cut = ask(buildQuery(2, 'big.example', QType.A), 300, MIN_OUTPUT_ROOM) as Buffer;
    assert.ok(cut.length <= 512 && (cut.readUInt16BE(2) & 0x0200) !== 0, 'cut to 512 with TC');
    const hit = ask(buildQuery(3, 'CACHED.example', QType.A), 17, 2 * MIN_OUTPUT_ROOM) as Buffer;
    assert.equal(hit.readUInt16BE(0), 3);
    assert.equal(Packet.parse(hit).questions[0]?.name, 'CACHED.example', 'the client spelling, not the last query');
    const mesh = ask(buildQuery(4, 'svc1.ns1.global', QType.A), 5, 7) as Buffer;
    assert.deepEqual(Packet.parse(mesh).answers.map((a) => a.address), ['240.0.0.2']);
    const fail = ask(buildQuery(5, 'nowhere.example', QType.A), 0, 0) as Buffer;
    assert.equal(fail[3]! & 0xf, Rcode.ServFail);
    assert.deepEqual(later, [], 'nothing went through respond');
    assert.deepEqual(r.stats.bySource, { hosts: 2, mesh: 1, forward: 0, cache: 1, upstream: 1, error: 0 });
  });

  void test('a TCP context has no UDP limit; its answers start at its offset', () => {
    const r = resolverWith();
    const out = Buffer.alloc(65537, 0x77);
    const ctx = new QueryContext({ tcp: true, out, at: 2, room: 65535, respond: () => assert.fail('answered in place') });
    const query = buildQuery(9, 'big.example', QType.A);
    const written = r.handle(ctx.request(query, 0, query.length));
    assert.equal(out[0], 0x77, 'the length prefix is the caller\'s');
    assert.equal(Packet.parse(out.subarray(2, 2 + written)).answers.length, many.length, 'whole over TCP');
  });

  void test('a forwarded query keeps its own respond: later queries in the same context do not take its answer', async () => {
    const upstreamSocket = dgram.createSocket('udp4');
    // A real server on loopback that answers every query with an empty NOERROR, once released.
    const held: { msg: Buffer; port: number }[] = [];
    upstreamSocket.on('message', (msg, rinfo) => held.push({ msg, port: rinfo.port }));
    upstreamSocket.bind(0, '127.0.0.1');
    await once(upstreamSocket, 'listening');
    const upstream = new Upstream('127.0.0.1', upstreamSocket.address().port);
    after(() => (upstream.close(), upstreamSocket.close()));
    const r = resolverWith(new Forwarder([upstream], 2000));
    const got: { who: string; id: number; rcode: number }[] = [];
    const ctx = new QueryContext({ tcp: false, out: Buffer.alloc(MIN_OUTPUT_ROOM), room: MIN_OUTPUT_ROOM, respond: () => assert.fail('no respond set') });
    const forwarded = buildQuery(0x1111, 'far.example', QType.A);
    ctx.respond = (reply) => got.push({ who: 'first', id: reply.readUInt16BE(0), rcode: reply[3]! & 0xf });
    assert.equal(r.handle(ctx.request(forwarded, 0, forwarded.length)), ANSWER_LATER);
    // The context moves on: another client, another respond, a local answer written in place.
    ctx.respond = (reply) => got.push({ who: 'second', id: reply.readUInt16BE(0), rcode: reply[3]! & 0xf });
    const local = buildQuery(0x2222, 'istio-pilot', QType.A);
    assert.ok(r.handle(ctx.request(local, 0, local.length)) > 0);
    await waitFor('the query upstream', () => held.length === 1, 5000, 5);
    const { msg, port } = held[0]!;
    msg[2]! |= 0x80; // QR: the question echoed exactly, our ID kept
    upstreamSocket.send(msg, port, '127.0.0.1');
    await waitFor('the forwarded answer', () => got.length === 1, 5000, 5);
    assert.deepEqual(got, [{ who: 'first', id: 0x1111, rcode: Rcode.NoError }]);
    assert.equal(r.inFlight, 0);
  });
});

void describe('dns reply memo: the narrow interface the resolver reports through', () => {
  const kept = (r: Resolver, sink: RecordingSink, query: Buffer, room = MIN_OUTPUT_ROOM): { written: number; kept: string[]; out: Buffer } => {
    sink.kept = [];
    const out = Buffer.alloc(room);
    const ctx = new QueryContext({ tcp: false, out, room, respond: () => undefined, memo: sink });
    const written = r.handle(ctx.request(query, 0, query.length));
    return { written, kept: sink.kept, out };
  };

  void test('only answers written whole are offered: hosts, mesh, cache hits', () => {
    const r = resolverWith();
    const sink = new RecordingSink();
    cacheAnswer(r.cache, 'cached.example', 60);
    assert.deepEqual(kept(r, sink, buildQuery(1, 'istio-pilot', QType.A)).kept, ['hosts']);
    assert.deepEqual(kept(r, sink, buildQuery(2, 'svc1.ns1.global', QType.AAAA)).kept, ['mesh'], 'NODATA from the mesh table too');
    assert.deepEqual(kept(r, sink, buildQuery(3, 'cached.example', QType.A)).kept, ['cache']);
    assert.deepEqual(kept(r, sink, buildQuery(4, 'big.example', QType.A)).kept, [], 'truncated: not kept');
    assert.deepEqual(kept(r, sink, buildQuery(5, 'big.example', QType.A, { ednsSize: 4096 }), 200).kept, [], 'too big for the room: not kept');
    assert.deepEqual(kept(r, sink, buildQuery(6, 'nowhere.example', QType.A)).kept, [], 'SERVFAIL: not kept');
    const twoQuestions = buildQuery(7, 'istio-pilot', QType.A);
    twoQuestions.writeUInt16BE(2, 4);
    assert.deepEqual(kept(r, sink, twoQuestions).kept, [], 'FORMERR: not kept');
  });

  void test('a cache hit reports its TTL offsets and expiry where the sink says', () => {
    const r = resolverWith();
    const sink = new RecordingSink();
    const storedFrom = performanceClock.seconds();
    cacheAnswer(r.cache, 'cached.example', 60);
    const storedBy = performanceClock.seconds();
    const { written, out } = kept(r, sink, buildQuery(3, 'cached.example', QType.A));
    const base = sink.ttlBase;
    assert.equal(sink.ttls[base], 1, 'one TTL');
    const expiry = sink.ttls[base + L.ttlExpiryLow]! | (sink.ttls[base + L.ttlExpiryHigh]! << 16);
    assert.ok(expiry >= storedFrom + 60 && expiry <= storedBy + 60, `expiry ${expiry}: stored between ${storedFrom} and ${storedBy}, TTL 60`);
    const at = sink.ttls[base + MEMO_TTL_FIRST]!;
    assert.ok(at + 4 <= written);
    assert.equal(out.readUInt32BE(at), 60, 'the offset points at the answer TTL');
    assert.ok(sink.ttls.subarray(0, base).every((w) => w === 0), 'nothing written before its base');
  });

  void test('SlotMemo: memo words for the addon, reset per query, TTL report per output slot, overflow refused', () => {
    const r = resolverWith();
    const ttls = new Uint16Array(4 * MEMO_TTL_WORDS);
    const memo = new SlotMemo(ttls);
    cacheAnswer(r.cache, 'cached.example', 60);
    const word = (query: Buffer, outputSlot: number): number => {
      memo.begin(outputSlot);
      const out = Buffer.alloc(MIN_OUTPUT_ROOM);
      r.handle(new QueryContext({ tcp: false, out, room: MIN_OUTPUT_ROOM, respond: () => undefined, memo }).request(query, 0, query.length));
      return memo.word;
    };
    assert.equal(word(buildQuery(1, 'istio-pilot', QType.A), 0), memoWord(true, sourceIndex('hosts'), 0));
    assert.equal(word(buildQuery(2, 'svc1.ns1.global', QType.A), 1), memoWord(true, sourceIndex('mesh'), 0));
    assert.equal(word(buildQuery(3, 'big.example', QType.A), 1), 0, 'a truncated answer after a kept one: reset');
    assert.equal(word(buildQuery(4, 'cached.example', QType.A), 2), memoWord(false, sourceIndex('cache'), 0));
    assert.equal(ttls[2 * MEMO_TTL_WORDS], 1, 'the report in output slot 2');
    assert.equal(ttls[0], 0, 'not in slot 0');
    // More TTLs than a report holds: the addon could not count them all down, so it is not kept.
    cacheAnswer(r.cache, 'wide.example', 60, MEMO_TTLS_MAX + 1);
    assert.equal(word(buildQuery(5, 'wide.example', QType.A), 3), 0);
    assert.equal(ttls[3 * MEMO_TTL_WORDS], MEMO_TTLS_OVERFLOW);
    assert.equal(r.stats.bySource.cache, 2, 'yet answered from the cache');
  });
});
