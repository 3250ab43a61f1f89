import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CASE_ONLY, CASE_RECHECK_MS, CaseLearner, OTHER, SAME, compareQuestion, randomizeCase, restoreQuestion } from '../../src/dns/name-case.js';
import { InFlightQueries, type Coalescable } from '../../src/dns/in-flight.js';
import { Forwarder } from '../../src/dns/forwarder.js';
import { buildQuery, isQuery, parseQuery, QType } from '../../src/dns/wire.js';

function questionEnd(packet: Buffer): number {
  const q = parseQuery(packet);
  assert.ok(isQuery(q));
  return q.questionEnd;
}

void describe('dns 0x20: random case of the question name', () => {
  void test('only letters change, and only their case; length bytes, digits, hyphens, type and class stay', () => {
    const original = buildQuery(7, 'a1-b.x-9yz.example', QType.AAAA);
    const end = questionEnd(original);
    let sawUpper = 0;
    let sawMixed = 0;
    for (let round = 0; round < 200; round++) {
      const wire = Buffer.from(original);
      const upper = randomizeCase(wire, end - 4);
      for (let i = 0; i < wire.length; i++) {
        const a = original[i]!;
        const b = wire[i]!;
        const letter = (a | 0x20) >= 97 && (a | 0x20) <= 122;
        if (letter) assert.equal(b | 0x20, a, `byte ${i} keeps its letter`);
        else assert.equal(b, a, `byte ${i} is not a letter and must not change`);
      }
      const name = wire.subarray(12, end - 4).toString('latin1');
      if (upper) sawUpper += 1;
      assert.equal(upper, /[A-Z]/.test(name), 'reports whether an uppercase letter came out');
      if (/[A-Z]/.test(name) && /[a-z]/.test(name)) sawMixed += 1;
      assert.equal(compareQuestion(original, wire, end), name === name.toLowerCase() ? SAME : CASE_ONLY);
      const parsed = parseQuery(wire);
      assert.ok(isQuery(parsed) && parsed.name === 'a1-b.x-9yz.example' && parsed.qtype === QType.AAAA);
    }
    // 12 letters: all-lowercase has probability 2^-12 per round.
    assert.ok(sawUpper > 190 && sawMixed > 150, `random enough: ${sawUpper} with uppercase, ${sawMixed} mixed of 200`);
  });

  void test('a name without letters is left alone', () => {
    const wire = buildQuery(1, '1.2.3.4', QType.PTR);
    const copy = Buffer.from(wire);
    assert.equal(randomizeCase(wire, questionEnd(wire) - 4), false);
    assert.deepEqual(wire, copy);
  });

  void test('compareQuestion: same, case only, or another name, type or class', () => {
    const sent = buildQuery(1, 'WwW.ExAmple.com', QType.A);
    const end = questionEnd(sent);
    assert.equal(compareQuestion(sent, buildQuery(9, 'WwW.ExAmple.com', QType.A), end), SAME);
    assert.equal(compareQuestion(sent, buildQuery(9, 'www.example.com', QType.A), end), CASE_ONLY);
    assert.equal(compareQuestion(sent, buildQuery(9, 'www.example.con', QType.A), end), OTHER);
    assert.equal(compareQuestion(sent, buildQuery(9, 'WwW.ExAmple.com', QType.AAAA), end), OTHER);
    assert.equal(compareQuestion(sent, buildQuery(9, 'WwW.ExAmple.co', QType.A), end), OTHER);
    assert.equal(compareQuestion(sent, sent.subarray(0, end - 1), end), OTHER, 'a reply cut inside the question');
    // 0x20 apart but not letters: '@' (0x40) and '`' (0x60) are not the same character.
    const at = buildQuery(1, 'a@b', QType.A);
    const tick = buildQuery(1, 'a`b', QType.A);
    assert.equal(compareQuestion(at, tick, questionEnd(at)), OTHER);
  });

  void test('restoreQuestion puts the client spelling back', () => {
    const client = buildQuery(1, 'Istio-Pilot', QType.A);
    const reply = buildQuery(2, 'iSTIO-pILOT', QType.A);
    restoreQuestion(client, reply, questionEnd(client));
    assert.deepEqual(reply.subarray(12), client.subarray(12));
    assert.equal(reply.readUInt16BE(0), 2, 'the header is not the question');
  });
});

void describe('dns 0x20: what a server is learned to do', () => {
  void test('an exact echo of an uppercase letter teaches "echoes"; then a case-only reply is dropped', () => {
    const c = new CaseLearner();
    assert.equal(c.echo, 'unknown');
    c.echoed(false);
    assert.equal(c.echo, 'unknown', 'an all-lowercase question proves nothing');
    c.echoed(true);
    assert.equal(c.echo, 'yes');
    assert.equal(c.caseOnly(false, 0), 'drop');
    assert.equal(c.caseOnly(true, 0), 'drop');
    assert.equal(c.mismatches, 2);
    assert.equal(c.randomize(0), true);
  });

  void test('unknown: a case-only reply asks again; a second one means "does not echo", taken, no more randomizing', () => {
    const c = new CaseLearner();
    assert.equal(c.caseOnly(false, 1000), 'confirm');
    assert.equal(c.echo, 'unknown');
    assert.equal(c.caseOnly(true, 1000), 'accept');
    assert.equal(c.echo, 'no');
    assert.equal(c.randomize(1000 + CASE_RECHECK_MS - 1), false);
    assert.equal(c.randomize(1000 + CASE_RECHECK_MS), true, 'checked again after an hour');
    assert.equal(c.echo, 'unknown');
  });

  void test('a dropped reply followed by silence makes the server unknown again', () => {
    const c = new CaseLearner();
    c.echoed(true);
    c.unanswered();
    assert.equal(c.echo, 'unknown');
  });
});

class Job implements Coalescable<Job> {
  sameName: Job | undefined = undefined;
  constructor(
    readonly name: string,
    readonly qtype: number,
    readonly forwardTo: Forwarder,
    readonly tcp = false,
    readonly cacheFlags = 0,
    readonly qclass = 1,
  ) {}
}

void describe('dns in-flight queries (coalescing)', () => {
  const f1 = new Forwarder([], 2000);
  const f2 = new Forwarder([], 2000);

  void test('joins only what the cache would answer alike, from the same servers, over the same transport', () => {
    const t = new InFlightQueries<Job>();
    const a = new Job('x.example', QType.A, f1);
    t.add(a);
    assert.equal(t.find(new Job('x.example', QType.A, f1)), a);
    assert.equal(t.find(new Job('x.example', QType.AAAA, f1)), undefined);
    assert.equal(t.find(new Job('x.example', QType.A, f2)), undefined);
    assert.equal(t.find(new Job('x.example', QType.A, f1, true)), undefined);
    assert.equal(t.find(new Job('x.example', QType.A, f1, false, 1)), undefined);
    assert.equal(t.find(new Job('x.example', QType.A, f1, false, 0, 3)), undefined);
    assert.equal(t.find(new Job('y.example', QType.A, f1)), undefined);
  });

  void test('several waiting under one name; each removed on its own; removal of an absent one is harmless', () => {
    const t = new InFlightQueries<Job>();
    const a = new Job('x.example', QType.A, f1);
    const aaaa = new Job('x.example', QType.AAAA, f1);
    const tcp = new Job('x.example', QType.A, f1, true);
    t.add(a);
    t.add(aaaa);
    t.add(tcp);
    t.remove(aaaa);
    assert.equal(t.find(new Job('x.example', QType.AAAA, f1)), undefined);
    assert.equal(t.find(new Job('x.example', QType.A, f1)), a);
    assert.equal(t.find(new Job('x.example', QType.A, f1, true)), tcp);
    t.remove(tcp);
    t.remove(tcp);
    t.remove(a);
    assert.equal(t.size, 0);
    t.remove(new Job('z.example', QType.A, f1));
    assert.equal(t.size, 0);
  });
});
