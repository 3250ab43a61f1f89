import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Packet } from 'dns2';
import { DnsCache } from '../../src/dns/cache.js';
import { HostsTable } from '../../src/dns/hosts-table.js';
import { MeshTable } from '../../src/dns/mesh-table.js';
import { DomainTable } from '../../src/dns/names.js';
import { QueryContext } from '../../src/dns/query-context.js';
import { ANSWER_LATER, DROPPED, MIN_OUTPUT_ROOM, Resolver } from '../../src/dns/resolver.js';
import { DnsStats } from '../../src/dns/stats.js';
import { buildQuery, CD, isQuery, parseQuery, QType, Rcode, type Query } from '../../src/dns/wire.js';

const many = Array.from({ length: 60 }, (_, i) => `10.9.0.${i + 1}`);

function resolver(): Resolver {
  const hosts = HostsTable.build(
    [
      { name: 'istio-pilot', addresses: ['192.168.0.62', 'fd00::62'] },
      { name: 'big.example', addresses: many },
    ],
    30,
  );
  const mesh = MeshTable.fromHosts([{ host: 'svc1.ns1.global', addresses: ['240.0.0.2'], allocated: false }], 30);
  return new Resolver({ hosts, mesh, forward: new DomainTable(), upstream: undefined }, new DnsCache(100, { maxTTL: 3600, negativeTTL: 30 }), new DnsStats(), 16);
}

/** Runs one query placed at `inAt` of an input arena, answered at `outAt` of an output arena. */
function ask(r: Resolver, query: Buffer, inAt = 37, outAt = 411, room = MIN_OUTPUT_ROOM): { written: number; reply?: Buffer; later: Buffer[]; out: Buffer } {
  const input = Buffer.alloc(inAt + query.length + 50, 0xee);
  query.copy(input, inAt);
  const out = Buffer.alloc(outAt + room + 10, 0x77);
  const later: Buffer[] = [];
  const ctx = new QueryContext({ tcp: false, out, at: outAt, room, respond: (reply) => later.push(reply) });
  const written = r.handle(ctx.request(input, inAt, inAt + query.length));
  assert.equal(out[outAt - 1], 0x77, 'nothing written before the output offset');
  assert.equal(out[outAt + room], 0x77, 'nothing written past the room');
  return { written, later, out, ...(written > 0 ? { reply: Buffer.from(out.subarray(outAt, outAt + written)) } : {}) };
}

void describe('dns resolver: answers written in place', () => {
  void test('hosts and mesh answers land at the output offset, in the client spelling', () => {
    const r = resolver();
    const a = ask(r, buildQuery(0x4242, 'X.Istio-Pilot', QType.A));
    assert.ok(a.reply !== undefined);
    const decoded = Packet.parse(a.reply);
    assert.equal(decoded.header.id, 0x4242);
    assert.equal(decoded.header.aa, 1);
    assert.equal(decoded.questions[0]?.name, 'X.Istio-Pilot');
    assert.deepEqual(decoded.answers.map((x) => x.address), ['192.168.0.62']);
    assert.equal(a.out[411 + a.written], 0x77, 'nothing written past the reply');
    const m = ask(r, buildQuery(7, 'svc1.ns1.global', QType.A, { ednsSize: 1232 }));
    assert.ok(m.reply !== undefined);
    assert.deepEqual(Packet.parse(m.reply).answers.map((x) => x.address), ['240.0.0.2']);
    assert.equal(r.stats.bySource.hosts, 1);
    assert.equal(r.stats.bySource.mesh, 1);
  });

  void test('the reused query object carries nothing from one query to the next', () => {
    const r = resolver();
    const withOpt = ask(r, buildQuery(1, 'istio-pilot', QType.AAAA, { ednsSize: 4096 }));
    assert.equal(Packet.parse(withOpt.reply!).additionals.length, 1);
    const plain = ask(r, buildQuery(2, 'istio-pilot', QType.AAAA));
    assert.equal(Packet.parse(plain.reply!).additionals.length, 0, 'no OPT for a client that sent none');
    assert.equal(plain.reply!.readUInt16BE(10), 0);
  });

  void test('a reply over the client size is cut in place, whole records, TC set', () => {
    const r = resolver();
    const cut = ask(r, buildQuery(3, 'big.example', QType.A));
    assert.ok(cut.reply !== undefined);
    assert.ok(cut.written <= 512);
    assert.ok(cut.reply.readUInt16BE(2) & 0x0200, 'TC');
    const answers = cut.reply.readUInt16BE(6);
    assert.equal(cut.written, 12 + 'big.example'.length + 2 + 4 + answers * 16, 'only whole 16-byte A records');
    assert.equal(r.stats.truncated, 1);
    const full = ask(r, buildQuery(4, 'big.example', QType.A, { ednsSize: 4096 }));
    assert.equal(Packet.parse(full.reply!).answers.length, many.length);
  });

  void test('an answer bigger than the output room goes through respond, at once', () => {
    const r = resolver();
    const res = ask(r, buildQuery(5, 'big.example', QType.A, { ednsSize: 4096 }), 0, 1, 200);
    assert.equal(res.written, ANSWER_LATER);
    assert.equal(res.later.length, 1);
    assert.equal(Packet.parse(res.later[0]!).answers.length, many.length);
  });

  void test('responses are dropped; garbage gets FORMERR; no upstream is SERVFAIL, all in place', () => {
    const r = resolver();
    const response = buildQuery(6, 'a.example', QType.A);
    response[2]! |= 0x80;
    assert.equal(ask(r, response).written, DROPPED);
    const two = buildQuery(7, 'a.example', QType.A);
    two.writeUInt16BE(2, 4);
    assert.equal(ask(r, two).reply![3]! & 0xf, Rcode.FormErr);
    const fail = ask(r, buildQuery(8, 'nowhere.example', QType.A, { ednsSize: 1232 }));
    assert.equal(fail.reply![3]! & 0xf, Rcode.ServFail);
    assert.equal(Packet.parse(fail.reply!).additionals.length, 1, 'OPT echoed to an EDNS client');
    assert.equal(r.stats.dropped, 1);
    assert.equal(r.stats.byRcode[Rcode.FormErr], 1);
    assert.equal(r.stats.byRcode[Rcode.ServFail], 1);
  });
});

void describe('dns wire: parsing in place', () => {
  void test('a query at an offset parses like one at 0; offsets are relative to it', () => {
    const query = buildQuery(0x0102, 'Svc.Example', QType.AAAA, { ednsSize: 2048 });
    const arena = Buffer.concat([Buffer.alloc(99, 0x41), query, Buffer.alloc(30, 0x42)]);
    const here = parseQuery(arena, 99, 99 + query.length);
    const alone = parseQuery(query);
    assert.ok(isQuery(here) && isQuery(alone));
    assert.deepEqual({ ...here }, { ...alone });
    assert.equal(here.questionEnd, 12 + 13 + 4);
  });

  void test('cached replies are told apart by type, class, EDNS, DO and CD, not by letter case', () => {
    const cache = new DnsCache(100, { maxTTL: 3600, negativeTTL: 30 });
    const cd = buildQuery(3, 'a.example', QType.A);
    cd[3]! |= CD;
    const chaos = buildQuery(4, 'a.example', QType.A);
    chaos.writeUInt16BE(3, 12 + 11 + 2);
    const dnssec = buildQuery(5, 'a.example', QType.A, { ednsSize: 1232 });
    dnssec[dnssec.length - 4]! |= 0x80; // DO: high bit of the OPT record's flags
    const variants = [buildQuery(1, 'a.example', QType.A), buildQuery(1, 'a.example', QType.AAAA), buildQuery(1, 'a.example', QType.A, { ednsSize: 1232 }), dnssec, cd, chaos];
    const parse = (buf: Buffer): Query => {
      const q = parseQuery(buf);
      assert.ok(isQuery(q));
      return q;
    };
    // Each variant gets its own reply (its address says which); each is found, and only its own.
    variants.forEach((v, i) => {
      const reply = Buffer.from(v);
      reply.writeUInt16BE(0x8180, 2);
      reply.writeUInt16BE(1, 6);
      reply.writeUInt16BE(0, 10); // no OPT in the reply, whatever the query had
      const body = reply.subarray(0, 12 + 11 + 4);
      cache.put(parse(v), Buffer.concat([body, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, i])]));
    });
    assert.equal(cache.size, variants.length);
    const out = Buffer.alloc(4096);
    variants.forEach((v, i) => {
      const q = parse(v);
      const length = cache.getInto(q, v, 0, out, 0);
      assert.ok(length > 0, `variant ${i} found`);
      assert.equal(out[length - 1], i, `variant ${i} gets its own reply`);
    });
    const upper = buildQuery(9, 'A.EXAMPLE', QType.A);
    assert.ok(cache.getInto(parse(upper), upper, 0, out, 0) > 0, 'letter case does not matter');
    assert.equal(out[12], 1, 'and the client spelling comes back');
    assert.equal(out[13], 'A'.charCodeAt(0));
  });
});
