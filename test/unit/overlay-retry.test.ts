import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { peerKey, removalKey, restrictPlan, type Plan } from '../../src/overlay/plan.js';
import { RetryBackoff } from '../../src/overlay/retry-backoff.js';

void describe('kernel-refusal backoff', () => {
  void test('delays double from 1 s to the 2 min cap; a success releases the entry', () => {
    let now = 0;
    const b = new RetryBackoff(() => now);
    const delays: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      b.failed('peer|a', 'ENOSPC');
      delays.push(b.nextInMs() ?? -1);
      now += b.nextInMs() ?? 0;
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000]);
    b.failed('peer|a', 'ENOSPC');
    assert.equal(b.held('peer|a'), true);
    now += 119_999;
    assert.equal(b.held('peer|a'), true);
    assert.deepEqual(b.due(), []);
    now += 1;
    assert.equal(b.held('peer|a'), false);
    assert.deepEqual(b.due(), ['peer|a']);
    b.succeeded('peer|a');
    assert.equal(b.size, 0);
    assert.equal(b.nextInMs(), undefined);
  });

  void test('entries no longer wanted are dropped; status lists attempts and the next try', () => {
    let now = 5;
    const b = new RetryBackoff(() => now);
    b.failed('peer|a', 'x');
    b.failed('peer|b', 'y');
    b.failed('peer|b', 'y');
    b.retain((k) => k === 'peer|b');
    now += 500;
    assert.deepEqual(b.list(10), [{ key: 'peer|b', attempts: 2, until: 2005, lastError: 'y', retryInMs: 1500 }]);
  });

  void test('a restricted plan leaves out held peers and removals, and every removal while holding', () => {
    const p: Plan = {
      removals: [
        { type: 'route-del', dst: '10.234.9.0/24' },
        { type: 'fdb-del', mac: '02:00:00:00:00:09', dst: '192.168.0.9' },
      ],
      peers: [
        { subnet: '10.234.1.0/24', ops: [{ type: 'neigh-set', ip: '10.234.1.0', mac: '02:00:00:00:00:01' }] },
        { subnet: '10.234.2.0/24', ops: [{ type: 'neigh-set', ip: '10.234.2.0', mac: '02:00:00:00:00:02' }] },
      ],
    };
    const held = new Set([removalKey({ type: 'route-del', dst: '10.234.9.0/24' })]);
    const r = restrictPlan(p, { keepAll: false, heldPeer: (s) => s === '10.234.2.0/24', heldRemoval: (op) => held.has(removalKey(op)) });
    assert.deepEqual(r.removals, [p.removals[1]]);
    assert.deepEqual(r.peers.map((x) => x.subnet), ['10.234.1.0/24']);
    assert.equal(r.skipped, 2);
    const keep = restrictPlan(p, { keepAll: true, heldPeer: () => false, heldRemoval: () => false });
    assert.deepEqual(keep.removals, []);
    assert.equal(keep.peers.length, 2);
    // A peer's identity includes its MAC and public IP: a changed peer is a new entry.
    const a = { subnet: '10.234.1.0/24', vtep: '10.234.1.0', publicIP: '192.168.0.1', vtepMAC: '02:00:00:00:00:01' };
    assert.notEqual(peerKey(a), peerKey({ ...a, vtepMAC: '02:00:00:00:00:02' }));
  });
});
