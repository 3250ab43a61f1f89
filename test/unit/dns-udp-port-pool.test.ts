/**
 * The upstream UDP socket pool's rules (src/dns/udp-port-pool.ts) with explicit times and slot
 * picks: a socket carries at most its query budget and takes new queries only for its time, is
 * replaced by a fresh one in its slot, and closes once nothing waits on it; idle sockets past their
 * time are closed by the sweep. The sockets here are records; the real ones are driven by
 * test/integration/dns-upstream-spoofing.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PortPool, UDP_POOL_SIZE, UDP_PORT_MS, UDP_PORT_QUERIES, type PooledPort } from '../../src/dns/udp-port-pool.js';

class FakePort implements PooledPort {
  uses = 0;
  retired = false;
  waiting = 0;
  closed = 0;

  constructor(
    readonly openedAt: number,
    readonly serial: number,
  ) {}

  close(): void {
    this.closed += 1;
  }
}

function pool(size = 4, maxUses = 3, maxAgeMs = 1000): { pool: PortPool<FakePort>; opened: FakePort[] } {
  const opened: FakePort[] = [];
  return {
    opened,
    pool: new PortPool<FakePort>(
      (now) => {
        const p = new FakePort(now, opened.length);
        opened.push(p);
        return p;
      },
      size,
      maxUses,
      maxAgeMs,
    ),
  };
}

void describe('dns upstream UDP socket pool', () => {
  void test('the shipped bounds: a power-of-two pool, at most 64 queries and a second per socket', () => {
    assert.equal(UDP_POOL_SIZE & (UDP_POOL_SIZE - 1), 0);
    assert.ok(UDP_PORT_QUERIES >= 1 && UDP_PORT_QUERIES <= 64, `${UDP_PORT_QUERIES}`);
    assert.ok(UDP_PORT_MS >= 100 && UDP_PORT_MS <= 1000, `${UDP_PORT_MS}`);
  });

  void test('a socket carries at most its query budget, then a fresh one takes its slot', () => {
    const { pool: p, opened } = pool(4, 3);
    const first = p.take(0, 1);
    first.waiting += 1;
    assert.equal(p.take(0, 5), first, 'slot 5 % 4 = 1: the same socket');
    first.waiting += 1;
    assert.equal(p.take(0, 9), first);
    first.waiting += 1;
    assert.equal(first.uses, 3);
    const second = p.take(0, 13);
    assert.notEqual(second, first, 'a fourth query gets a fresh socket');
    assert.equal(first.retired, true);
    assert.equal(first.closed, 0, 'still waited on: not closed yet');
    assert.equal(p.open, 2);
    // Its queries settle one by one; the last closes it.
    first.waiting -= 1;
    p.settled(first);
    first.waiting -= 1;
    p.settled(first);
    assert.equal(first.closed, 0);
    first.waiting -= 1;
    p.settled(first);
    assert.equal(first.closed, 1);
    assert.equal(p.open, 1);
    assert.equal(opened.length, 2);
  });

  void test('a socket that used its budget closes when its last query settles, without waiting to be picked', () => {
    const { pool: p } = pool(4, 2);
    const s = p.take(0, 0);
    s.waiting += 1;
    p.take(0, 0);
    s.waiting += 1;
    s.waiting -= 1;
    p.settled(s);
    assert.equal(s.closed, 0);
    s.waiting -= 1;
    p.settled(s);
    assert.equal(s.retired, true);
    assert.equal(s.closed, 1);
    assert.equal(p.open, 0);
  });

  void test('a socket takes new queries only for its time after it opened', () => {
    const { pool: p } = pool(4, 100, 1000);
    const s = p.take(5000, 2);
    assert.equal(p.take(5999, 2), s, 'within its time');
    const t = p.take(6000, 2);
    assert.notEqual(t, s, 'its time is up: a fresh socket');
    assert.equal(s.closed, 1, 'nothing waited on it: closed at once');
    assert.equal(t.openedAt, 6000);
  });

  void test('the sweep closes idle sockets past their time and leaves busy or young ones', () => {
    const { pool: p } = pool(4, 100, 1000);
    const idle = p.take(0, 0);
    const busy = p.take(0, 1);
    busy.waiting = 1;
    const young = p.take(800, 2);
    p.expire(1000);
    assert.equal(idle.closed, 1);
    assert.equal(busy.closed, 0, 'a query waits on it');
    assert.equal(young.closed, 0);
    assert.equal(p.open, 2);
    busy.waiting = 0;
    p.settled(busy);
    p.expire(1000);
    assert.equal(busy.closed, 1);
    p.expire(1800);
    assert.equal(young.closed, 1);
    assert.equal(p.open, 0);
  });

  void test('a failed socket is retired at once; closeAll closes everything exactly once', () => {
    const { pool: p } = pool(4);
    const a = p.take(0, 0);
    const b = p.take(0, 1);
    a.waiting = 2;
    p.retire(a);
    p.retire(a);
    assert.notEqual(p.take(0, 0), a, 'its slot opens a fresh socket');
    a.waiting = 0;
    p.settled(a);
    assert.equal(a.closed, 1);
    p.closeAll();
    assert.equal(b.closed, 1);
    assert.equal(a.closed, 1);
    assert.equal(p.open, 0);
  });

  void test('a socket that failed as it opened is replaced at the next pick of its slot', () => {
    const { pool: p, opened } = pool(4);
    const broken = p.take(0, 3);
    p.retire(broken);
    assert.equal(broken.closed, 1);
    const next = p.take(0, 3);
    assert.notEqual(next, broken);
    assert.equal(opened.length, 2);
    assert.equal(p.open, 1);
  });

  void test('the random pick spreads queries over the slots', () => {
    const { pool: p, opened } = pool(8, 1_000_000, 1e12);
    for (let r = 0; r < 64; r++) p.take(0, r * 7);
    assert.equal(opened.length, 8, 'every slot used');
    for (const s of opened) assert.equal(s.uses, 8);
  });
});
