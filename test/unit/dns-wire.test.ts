import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Packet } from 'dns2';
import { buildRecordSet, blockFor, ipv6Bytes, localReply } from '../../src/dns/records.js';
import { buildQuery, emptyReply, isQuery, parseQuery, QType, Rcode, type Query } from '../../src/dns/wire.js';

function parsed(buf: Buffer): Query {
  const q = parseQuery(buf);
  assert.ok(isQuery(q), 'expected a query');
  return q;
}

void describe('dns wire: query parsing', () => {
  void test('reads name (lowercased), type, class and EDNS size', () => {
    const q = parsed(buildQuery(0x1234, 'Istio-Pilot.Istio-System', QType.AAAA, { ednsSize: 4096 }));
    assert.equal(q.id, 0x1234);
    assert.equal(q.name, 'istio-pilot.istio-system');
    assert.equal(q.qtype, QType.AAAA);
    assert.equal(q.edns, true);
    assert.equal(q.udpSize, 4096);
  });

  void test('without OPT the client takes 512 bytes; a tiny EDNS size is raised to 512', () => {
    assert.equal(parsed(buildQuery(1, 'a.b', QType.A)).udpSize, 512);
    assert.equal(parsed(buildQuery(1, 'a.b', QType.A, { ednsSize: 100 })).udpSize, 512);
  });

  void test('responses and runts are dropped; multi-question and garbage get FORMERR; other opcodes NOTIMP', () => {
    const response = buildQuery(1, 'a.b', QType.A);
    response[2]! |= 0x80;
    assert.deepEqual(parseQuery(response), { kind: 'drop' });
    assert.deepEqual(parseQuery(Buffer.alloc(5)), { kind: 'drop' });
    const two = buildQuery(1, 'a.b', QType.A);
    two.writeUInt16BE(2, 4);
    assert.deepEqual(parseQuery(two), { kind: 'reply', rcode: Rcode.FormErr, questionEnd: 12 });
    const cut = buildQuery(1, 'abc.def', QType.A).subarray(0, 16);
    assert.equal((parseQuery(cut) as { rcode: number }).rcode, Rcode.FormErr);
    const notify = buildQuery(1, 'a.b', QType.A);
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    assert.equal((parseQuery(notify) as { rcode: number }).rcode, Rcode.NotImp);
  });

  void test('a label holding a dot cannot pose as two labels', () => {
    const buf = buildQuery(1, 'x.istio-pilot', QType.A);
    // Rewrite to the single label "x.istio-pilot" (13 bytes).
    const label = Buffer.from('x.istio-pilot', 'latin1');
    const tricky = Buffer.concat([buf.subarray(0, 12), Buffer.from([label.length]), label, Buffer.from([0, 0, 1, 0, 1])]);
    assert.equal(parsed(tricky).name, 'x\\.istio-pilot');
  });

  void test('error replies echo the question and carry OPT only when the client sent one', () => {
    const query = buildQuery(7, 'a.b', QType.A, { ednsSize: 1232 });
    const q = parsed(query);
    const reply = Packet.parse(emptyReply(query, q.questionEnd, Rcode.ServFail, true));
    assert.equal(reply.header.rcode, Rcode.ServFail);
    assert.equal(reply.header.qr, 1);
    assert.equal(reply.header.id, 7);
    assert.equal(reply.questions[0]?.name, 'a.b');
    assert.equal(reply.additionals.length, 1);
    assert.equal(Packet.parse(emptyReply(query, q.questionEnd, Rcode.ServFail, false)).additionals.length, 0);
  });
});

void describe('dns wire: local answers from pre-encoded blocks', () => {
  const set = buildRecordSet(['192.168.0.62', '10.0.0.1', 'fd00::1', '192.168.0.62'], 30);

  void test('A, AAAA and ANY decode with dns2, owner name in the client spelling', () => {
    const query = buildQuery(42, 'Foo.Istio-Pilot', QType.A, { ednsSize: 1232 });
    const q = parsed(query);
    const reply = Packet.parse(localReply(query, q, blockFor(set, q.qtype, q.qclass)));
    assert.equal(reply.errors.length, 0);
    assert.equal(reply.header.aa, 1);
    assert.deepEqual(reply.answers.map((a) => [a.name, a.type, a.ttl, a.address]), [
      ['Foo.Istio-Pilot', QType.A, 30, '192.168.0.62'],
      ['Foo.Istio-Pilot', QType.A, 30, '10.0.0.1'],
    ]);
    const q6 = buildQuery(1, 'x', QType.AAAA);
    const r6 = Packet.parse(localReply(q6, parsed(q6), blockFor(set, QType.AAAA, 1)));
    assert.equal(r6.answers.length, 1);
    assert.equal(r6.answers[0]?.type, QType.AAAA);
    const qa = buildQuery(1, 'x', QType.ANY);
    assert.equal(Packet.parse(localReply(qa, parsed(qa), blockFor(set, QType.ANY, 1))).answers.length, 3);
  });

  void test('a known name without the asked type is NODATA (NOERROR, no answer), not NXDOMAIN', () => {
    const v4only = buildRecordSet(['192.168.0.62'], 30);
    for (const type of [QType.AAAA, QType.MX, QType.TXT]) {
      const query = buildQuery(1, 'istio-pilot', type);
      const reply = Packet.parse(localReply(query, parsed(query), blockFor(v4only, type, 1)));
      assert.equal(reply.header.rcode, Rcode.NoError);
      assert.equal(reply.answers.length, 0);
    }
  });

  void test('IPv6 text forms encode to the right bytes', () => {
    assert.equal(ipv6Bytes('fd00::1').toString('hex'), 'fd000000000000000000000000000001');
    assert.equal(ipv6Bytes('::').toString('hex'), '0'.repeat(32));
    assert.equal(ipv6Bytes('::ffff:1.2.3.4').toString('hex'), '00000000000000000000ffff01020304');
    assert.equal(ipv6Bytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
  });
});
