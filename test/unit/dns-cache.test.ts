import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Packet, type Question, type Resource } from 'dns2';
import { DnsCache, MAX_CACHED_REPLY } from '../../src/dns/cache.js';
import { cacheability } from '../../src/dns/cache-policy.js';
import { fitReply } from '../../src/dns/truncate.js';
import { buildQuery, isQuery, parseQuery, QType, Rcode, type Query } from '../../src/dns/wire.js';

function q(buf: Buffer): Query {
  const parsed = parseQuery(buf);
  assert.ok(isQuery(parsed));
  return parsed;
}

/** The cached reply for `packet` (a query at offset 0), copied out of the output buffer. */
function cached(cache: DnsCache, packet: Buffer): Buffer | undefined {
  const query = q(packet);
  const out = Buffer.alloc(MAX_CACHED_REPLY);
  const length = cache.getInto(query, packet, 0, out, 0);
  return length < 0 ? undefined : Buffer.from(out.subarray(0, length));
}

interface ReplyOptions {
  rcode?: number;
  answers?: { address: string; ttl: number }[];
  soa?: { ttl: number; minimum: number };
  tc?: boolean;
}

/** An upstream-style reply built with dns2's encoder. */
function reply(id: number, name: string, options: ReplyOptions): Buffer {
  const p = new Packet();
  p.header.id = id;
  p.header.qr = 1;
  p.header.rd = 1;
  p.header.ra = 1;
  p.header.rcode = options.rcode ?? 0;
  p.header.tc = options.tc === true ? 1 : 0;
  p.questions.push({ name, type: QType.A, class: 1 } as Question);
  for (const a of options.answers ?? []) p.answers.push({ name, type: QType.A, class: 1, ttl: a.ttl, address: a.address } as Resource);
  if (options.soa !== undefined) {
    p.authorities.push({ name: 'example', type: QType.SOA, class: 1, ttl: options.soa.ttl, primary: 'ns.example', admin: 'h.example', serial: 1, refresh: 1, retry: 1, expiration: 1, minimum: options.soa.minimum } as Resource);
  }
  return p.toBuffer();
}

const policy = { maxTTL: 3600, negativeTTL: 30 };

void describe('dns cache policy', () => {
  void test('positive answers live for their smallest TTL, capped by maxTTL', () => {
    assert.equal(cacheability(reply(1, 'a.example', { answers: [{ address: '1.1.1.1', ttl: 300 }, { address: '1.1.1.2', ttl: 60 }] }), policy)?.ttl, 60);
    assert.equal(cacheability(reply(1, 'a.example', { answers: [{ address: '1.1.1.1', ttl: 86400 }] }), policy)?.ttl, 3600);
  });

  void test('negative answers (RFC 2308): min(SOA TTL, SOA MINIMUM) capped by negativeTTL; without SOA not cached', () => {
    const nx = cacheability(reply(1, 'n.example', { rcode: Rcode.NxDomain, soa: { ttl: 600, minimum: 20 } }), policy);
    assert.equal(nx?.ttl, 20);
    assert.equal(nx?.negative, true);
    assert.equal(cacheability(reply(1, 'n.example', { rcode: Rcode.NxDomain, soa: { ttl: 900, minimum: 900 } }), policy)?.ttl, 30);
    assert.equal(cacheability(reply(1, 'n.example', { soa: { ttl: 10, minimum: 100 } }), policy)?.ttl, 10, 'NODATA');
    assert.equal(cacheability(reply(1, 'n.example', { rcode: Rcode.NxDomain }), policy), undefined);
  });

  void test('errors, truncated replies and TTL 0 are not cached', () => {
    assert.equal(cacheability(reply(1, 'a.example', { rcode: Rcode.ServFail }), policy), undefined);
    assert.equal(cacheability(reply(1, 'a.example', { tc: true, answers: [{ address: '1.1.1.1', ttl: 60 }] }), policy), undefined);
    assert.equal(cacheability(reply(1, 'a.example', { answers: [{ address: '1.1.1.1', ttl: 0 }] }), policy), undefined);
  });
});

void describe('dns cache', () => {
  void test('hits carry the client ID and spelling, TTLs count down, entries expire', () => {
    let now = 1000; // the cache's clock is whole seconds
    const cache = new DnsCache(10, policy, () => now);
    const first = buildQuery(100, 'www.example.com', QType.A);
    const fq = q(first);
    cache.put(fq, reply(100, 'www.example.com', { answers: [{ address: '93.184.215.14', ttl: 10 }] }));
    now += 4;
    const second = buildQuery(200, 'WWW.Example.COM', QType.A);
    const hit = cached(cache, second);
    assert.ok(hit);
    const decoded = Packet.parse(hit);
    assert.equal(decoded.header.id, 200);
    assert.equal(decoded.questions[0]?.name, 'WWW.Example.COM');
    assert.equal(decoded.answers[0]?.ttl, 6);
    now += 6;
    assert.equal(cached(cache, second), undefined);
    assert.equal(cache.hits, 1);
    assert.equal(cache.misses, 1);
    assert.equal(cache.size, 0);
  });

  void test('a hit is written where asked, from a query anywhere in a buffer', () => {
    const cache = new DnsCache(10, policy);
    const stored = reply(1, 'svc.example', { answers: [{ address: '10.0.0.1', ttl: 60 }, { address: '10.0.0.2', ttl: 30 }] });
    const original = buildQuery(1, 'svc.example', QType.A);
    cache.put(q(original), stored);
    // The query sits at offset 100 of an arena full of other bytes; the reply goes to offset 333.
    const query = buildQuery(0xbeef, 'SVC.example', QType.A);
    const arena = Buffer.alloc(1000, 0xaa);
    query.copy(arena, 100);
    const parsed = parseQuery(arena, 100, 100 + query.length);
    assert.ok(isQuery(parsed));
    const out = Buffer.alloc(333 + MAX_CACHED_REPLY, 0x55);
    const length = cache.getInto(parsed, arena, 100, out, 333);
    assert.equal(length, stored.length);
    assert.equal(out[332], 0x55, 'nothing written before the offset');
    assert.equal(out[333 + length], 0x55, 'nothing written past the reply');
    const decoded = Packet.parse(out.subarray(333, 333 + length));
    assert.equal(decoded.header.id, 0xbeef);
    assert.equal(decoded.questions[0]?.name, 'SVC.example');
    assert.deepEqual(decoded.answers.map((a) => [a.address, a.ttl]), [['10.0.0.1', 30], ['10.0.0.2', 30]], 'TTLs never above the entry life');
  });

  void test('keys separate type and EDNS presence; size is bounded with LRU eviction', () => {
    const cache = new DnsCache(2, policy);
    const put = (name: string): void => {
      const b = buildQuery(1, name, QType.A);
      cache.put(q(b), reply(1, name, { answers: [{ address: '1.2.3.4', ttl: 60 }] }));
    };
    const has = (name: string, ednsSize?: number): boolean => {
      const b = buildQuery(1, name, QType.A, ednsSize === undefined ? {} : { ednsSize });
      return cached(cache, b) !== undefined;
    };
    put('a.example');
    put('b.example');
    assert.ok(has('a.example')); // a is now most recent
    put('c.example'); // evicts b
    assert.equal(cache.size, 2);
    assert.ok(has('a.example'));
    assert.ok(!has('b.example'));
    assert.ok(has('c.example'));
    assert.ok(!has('a.example', 1232), 'an EDNS query is a different key');
    assert.equal(cache.evictions, 1);
  });

  void test('eviction takes expired entries first; a reload that shrinks the cache keeps what fits', () => {
    let now = 5000;
    const cache = new DnsCache(3, policy, () => now);
    const put = (name: string, ttl: number): void => {
      const b = buildQuery(1, name, QType.A);
      cache.put(q(b), reply(1, name, { answers: [{ address: '1.2.3.4', ttl }] }));
    };
    const has = (name: string): boolean => cached(cache, buildQuery(9, name, QType.A)) !== undefined;
    put('long1.example', 600);
    put('short.example', 5);
    put('long2.example', 600);
    assert.ok(has('long1.example') && has('short.example') && has('long2.example'));
    now += 10; // short.example has expired, unread since
    put('new.example', 600);
    assert.ok(has('long1.example') && has('long2.example') && has('new.example'), 'the expired entry went, not a live one');
    assert.equal(cache.size, 3);
    cache.configure(2, policy);
    assert.equal(cache.size, 2);
    const left = ['long1.example', 'long2.example', 'new.example'].filter(has);
    assert.equal(left.length, 2);
    put('after.example', 600);
    assert.equal(cache.size, 2, 'still bounded after the shrink');
    assert.ok(has('after.example'));
  });

  void test('thousands of entries: all kept up to the size, then bounded; a put replaces its own entry', () => {
    const cache = new DnsCache(1000, policy);
    const put = (name: string, address: string): void => {
      const b = buildQuery(1, name, QType.A);
      cache.put(q(b), reply(1, name, { answers: [{ address, ttl: 600 }] }));
    };
    for (let i = 0; i < 1000; i++) put(`n${i}.example`, '10.0.0.1');
    assert.equal(cache.size, 1000);
    let found = 0;
    for (let i = 0; i < 1000; i++) if (cached(cache, buildQuery(2, `n${i}.example`, QType.A)) !== undefined) found += 1;
    assert.equal(found, 1000);
    put('n5.example', '10.0.0.99');
    assert.equal(cache.size, 1000);
    assert.equal(Packet.parse(cached(cache, buildQuery(3, 'n5.example', QType.A))!).answers[0]?.address, '10.0.0.99');
    for (let i = 1000; i < 3000; i++) put(`n${i}.example`, '10.0.0.2');
    assert.equal(cache.size, 1000);
    assert.equal(cache.evictions, 2000);
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cached(cache, buildQuery(4, 'n2999.example', QType.A)), undefined);
  });
});

void describe('dns truncation', () => {
  void test('a reply over the limit keeps whole records and sets TC; one that fits is unchanged', () => {
    const answers = Array.from({ length: 40 }, (_, i) => ({ address: `10.0.${i}.1`, ttl: 60 }));
    const big = reply(9, 'many.example', { answers });
    assert.ok(big.length > 512);
    const cut = fitReply(big, 512);
    assert.ok(cut.length <= 512);
    const decoded = Packet.parse(cut);
    assert.equal(decoded.errors.length, 0);
    assert.equal(decoded.header.tc, 1);
    assert.equal(decoded.header.id, 9);
    assert.ok(decoded.answers.length > 0 && decoded.answers.length < 40);
    assert.equal(decoded.answers.length, decoded.header.ancount);
    assert.equal(fitReply(big, 65535), big);
  });

  void test('the OPT record survives truncation', () => {
    const p = Packet.parse(reply(9, 'many.example', { answers: Array.from({ length: 80 }, (_, i) => ({ address: `10.1.${i}.1`, ttl: 60 })) }));
    p.additionals.push({ name: '', type: QType.OPT, class: 1232, ttl: 0, rdata: [] } as unknown as Resource);
    p.header.arcount = 1;
    const cut = Packet.parse(fitReply(p.toBuffer(), 1232));
    assert.equal(cut.header.tc, 1);
    assert.equal(cut.additionals.filter((a) => a.type === QType.OPT).length, 1);
  });
});
