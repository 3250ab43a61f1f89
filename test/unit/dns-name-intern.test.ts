import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { NameInterner } from '../../src/dns/name-intern.js';
import { buildQuery, isQuery, parseQuery, QType } from '../../src/dns/wire.js';

const bytes = (text: string): Buffer => Buffer.from(text + '\u0000'.repeat(8), 'latin1');

void describe('dns name interning', () => {
  void test('the same bytes give the same string without making another; other bytes give their own', () => {
    const names = new NameInterner();
    const a = names.intern(bytes('www.example.com'), 15);
    assert.equal(a, 'www.example.com');
    assert.equal(names.made, 1);
    assert.equal(names.intern(bytes('www.example.com'), 15), a);
    assert.equal(names.made, 1, 'seen again: no new string');
    assert.equal(names.intern(bytes('www.example.con'), 15), 'www.example.con');
    assert.equal(names.intern(bytes('www.example.com'), 3), 'www', 'only `length` bytes count');
    assert.equal(names.made, 3);
  });

  void test('thousands of names: every answer is right, and a working set that fits is made once', () => {
    const names = new NameInterner();
    const set = Array.from({ length: 3000 }, (_, i) => `n${i}.example.com`);
    for (let round = 0; round < 3; round++) {
      for (const n of set) assert.equal(names.intern(bytes(n), n.length), n);
    }
    // Two ways per slot: some pairs of names still collide three to a slot, but nearly all stay.
    assert.ok(names.made < 3000 * 1.1, `made ${names.made} strings for 3 rounds of 3000 names`);
    // A flood of one-off names never breaks an answer.
    for (let i = 0; i < 50_000; i++) {
      const n = `x${i}.flood.example`;
      assert.equal(names.intern(bytes(n), n.length), n);
    }
  });

  void test('parsed queries carry the interned name: lowercase, escaped, the same string every time', () => {
    const first = parseQuery(buildQuery(1, 'Intern.Test.Example', QType.A));
    const second = parseQuery(buildQuery(2, 'intern.test.EXAMPLE', QType.AAAA));
    assert.ok(isQuery(first) && isQuery(second));
    assert.equal(first.name, 'intern.test.example');
    assert.equal(second.name, first.name);
  });
});
