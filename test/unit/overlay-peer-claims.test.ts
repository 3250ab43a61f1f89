import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClaimBook, candidateId } from '../../src/overlay/peer-claims.js';
import { checkCandidate, gatePeers, prepareFacts, type Candidate, type LocalFacts, type Passed } from '../../src/overlay/peer-gate.js';

const facts: LocalFacts = { network: { network: '10.234.0.0/16' }, ownSubnet: '10.234.3.0/24', addresses: [], connected: [], foreignRoutes: [] };
const prepared = prepareFacts(facts);
const sources = ['config', 'etcd'];
const rank = (s: string): number => sources.indexOf(s);

void describe('incremental claims', () => {
  void test('any sequence of updates ends where the whole gate would: same accepted peers, same claim refusals', () => {
    let seed = 7;
    const rnd = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed >>> 8) % k;
    };
    // Few distinct values (and mixed prefix lengths): claims collide and cascade often.
    const make = (key: string, source: string): Candidate => ({
      source,
      key,
      subnet: rnd(8) === 0 ? `10.234.${2 * (1 + rnd(12))}.0/23` : `10.234.${4 + rnd(24)}.0/24`,
      publicIP: `192.168.1.${1 + rnd(20)}`,
      vtepMAC: `02:00:00:00:03:${(16 + rnd(20)).toString(16)}`,
      order: rnd(50),
    });
    const book = new ClaimBook(rank);
    const live = new Map<string, Candidate>();
    for (let step = 0; step < 400; step += 1) {
      const changes = new Map<string, Passed | undefined>();
      for (let k = 0; k < 1 + rnd(4); k += 1) {
        const source = sources[rnd(2)] ?? 'etcd';
        const key = `k${rnd(30)}`;
        const id = candidateId(source, key);
        if (rnd(4) === 0) {
          live.delete(id);
          changes.set(id, undefined);
        } else {
          const c = make(key, source);
          const v = checkCandidate(c, prepared);
          if (v.ok) live.set(id, c);
          else live.delete(id);
          changes.set(id, v.ok ? v : undefined);
        }
      }
      book.update(changes);
      const whole = gatePeers([...live.values()], facts, sources);
      const expected = new Map(whole.accepted.map((p) => [candidateId(p.source, p.key), p]));
      assert.deepEqual(new Map([...book.acceptedPeers].sort()), new Map([...expected].sort()), `step ${step}`);
      const claimRefused = whole.refused.filter((r) => r.reason.endsWith('-claimed')).map((r) => `${candidateId(r.source, r.key)}:${r.reason}`).sort();
      assert.deepEqual([...book.refusals].map(([id, r]) => `${id}:${r.reason}`).sort(), claimRefused, `step ${step}`);
    }
  });

  void test('only candidates whose outcome changed are reported', () => {
    const book = new ClaimBook(rank);
    const v = (c: Candidate): Passed => {
      const r = checkCandidate(c, prepared);
      assert.ok(r.ok);
      return r;
    };
    const a: Candidate = { source: 'etcd', key: 'a', subnet: '10.234.10.0/24', publicIP: '192.168.1.1', vtepMAC: '02:00:00:00:00:0a', order: 1 };
    const b: Candidate = { source: 'etcd', key: 'b', subnet: '10.234.11.0/24', publicIP: '192.168.1.2', vtepMAC: '02:00:00:00:00:0a', order: 2 };
    assert.deepEqual(book.update(new Map([[candidateId('etcd', 'a'), v(a)]])).map((o) => o.id), [candidateId('etcd', 'a')]);
    const second = book.update(new Map([[candidateId('etcd', 'b'), v(b)]]));
    assert.deepEqual(second.map((o) => [o.id, o.refused?.reason]), [[candidateId('etcd', 'b'), 'mac-claimed']]);
    // The holder leaves: the refused one takes its MAC.
    const third = book.update(new Map([[candidateId('etcd', 'a'), undefined]]));
    assert.deepEqual(third.map((o) => [o.id, o.accepted?.key]).sort(), [[candidateId('etcd', 'a'), undefined], [candidateId('etcd', 'b'), 'b']]);
  });
});
