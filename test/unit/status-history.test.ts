/** The status page's history: the ring, the rates between readings, and the recorder's one timer. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HistoryRecorder, Ring, historyPoints, type DnsReading, type Reading } from '../../src/status/history.js';

const reading = (s: number, dns: DnsReading | null): Reading => ({ at: 1_000_000 + s * 1000, mono: s * 1000, dns });

describe('status history', () => {
  test('the ring keeps the newest readings, oldest first', () => {
    const ring = new Ring<number>(3);
    assert.deepEqual(ring.toArray(), []);
    for (const n of [1, 2]) ring.push(n);
    assert.deepEqual(ring.toArray(), [1, 2]);
    for (const n of [3, 4, 5, 6, 7]) ring.push(n);
    assert.deepEqual(ring.toArray(), [5, 6, 7]);
  });

  test('rates per interval, gaps while DNS is off, a re-created counter counts from zero', () => {
    const points = historyPoints([
      reading(0, { queries: 100, cacheHits: 10, cacheMisses: 10 }),
      reading(10, { queries: 150, cacheHits: 13, cacheMisses: 11 }),
      reading(20, { queries: 150, cacheHits: 13, cacheMisses: 11 }),
      reading(30, null),
      reading(40, { queries: 20, cacheHits: 1, cacheMisses: 3 }),
      reading(50, { queries: 40, cacheHits: 2, cacheMisses: 3 }),
    ]);
    assert.deepEqual(
      points.map((p) => [p.at - 1_000_000, p.dnsQps, p.dnsCacheHitRatio]),
      [
        [10_000, 5, 0.75],
        [20_000, 0, null],
        [30_000, null, null],
        [40_000, null, null],
        [50_000, 2, 1],
      ],
    );
    // A counter that went down (the proxy was restarted) restarts from zero: 20 queries in 10 s.
    assert.deepEqual(historyPoints([reading(0, { queries: 500, cacheHits: 0, cacheMisses: 0 }), reading(10, { queries: 20, cacheHits: 0, cacheMisses: 0 })])[0]?.dnsQps, 2);
  });

  test('the recorder reads on start and on its interval, keeps the window, and stops', async () => {
    let queries = 0;
    let mono = 0;
    const recorder = new HistoryRecorder({ read: () => ({ queries: (queries += 30), cacheHits: 0, cacheMisses: 0 }), intervalMs: 20, readings: 4, monotonic: () => (mono += 10_000) });
    recorder.start();
    recorder.start();
    assert.equal(recorder.history().points.length, 0, 'one reading makes no point yet');
    const deadline = Date.now() + 5000;
    // Six readings, more than the ring holds.
    while (queries < 180 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    recorder.stop();
    const h = recorder.history();
    assert.equal(h.points.length, 3, 'four readings make three points, no more');
    assert.deepEqual(h.points.map((p) => p.dnsQps), [3, 3, 3]);
    assert.equal(h.windowSeconds, 0.06);
    const after = queries;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(queries, after, 'no reading after stop');
  });

  test('a throwing reader is a gap, not a crash', () => {
    const recorder = new HistoryRecorder({
      read: () => {
        throw new Error('boom');
      },
    });
    recorder.sample();
    recorder.sample();
    assert.deepEqual(recorder.history().points.map((p) => p.dnsQps), [null]);
  });
});
