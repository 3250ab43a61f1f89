import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DesiredPeers } from '../../src/overlay/desired-peers.js';
import { ObservedCache } from '../../src/overlay/observed-cache.js';
import { gatePeers, type Candidate, type GatedPeer, type LocalFacts } from '../../src/overlay/peer-gate.js';
import { plan, planChanges, planSize } from '../../src/overlay/plan.js';

const facts: LocalFacts = { network: { network: '10.234.0.0/16' }, ownSubnet: '10.234.3.0/24', addresses: ['192.168.0.81'], connected: ['192.168.0.0/24'], foreignRoutes: [] };
const c = (i: number, extra: Partial<Candidate> = {}): Candidate => ({
  source: 'etcd',
  key: `k${i}`,
  subnet: `10.234.${10 + i}.0/24`,
  publicIP: `192.168.1.${i + 1}`,
  vtepMAC: `02:00:00:00:01:${(16 + i).toString(16)}`,
  order: i,
  ...extra,
});
const accepted = (list: Candidate[]): Map<string, GatedPeer> => new Map(gatePeers(list, facts, ['config', 'etcd']).accepted.map((p) => [`${p.source}|${p.key}`, p]));

void describe('desired peers', () => {
  void test('only changed subnets are reported; the same host from another source changes nothing', () => {
    const set = new DesiredPeers();
    assert.equal(set.replace(accepted([c(0), c(1)])).length, 2);
    assert.deepEqual(set.replace(accepted([c(0), c(1)])), []);
    assert.deepEqual(set.replace(accepted([c(0), c(1), { ...c(1), source: 'config', key: 'overlay.peers[0]' }])), []);
    assert.equal(set.peers.get('10.234.11.0/24')?.source, 'config');
    const changes = set.replace(accepted([c(1)]));
    assert.deepEqual(changes.map((x) => [x.subnet, x.before !== undefined, x.after !== undefined]), [['10.234.10.0/24', true, false]]);
  });

  void test('a MAC moving to another subnet in one update leaves the event maps consistent', () => {
    const set = new DesiredPeers();
    set.replace(accepted([c(0), c(1)]));
    const mac = c(0).vtepMAC;
    set.replace(accepted([c(1), c(2, { vtepMAC: mac })]));
    assert.equal(set.fdbDst.get(mac), c(2).publicIP);
    assert.equal(set.neighbourMac.get('10.234.12.0'), mac);
    assert.equal(set.neighbourMac.has('10.234.10.0'), false);
  });

  void test('incremental plans of updates end where a full plan of the result starts: nothing left', () => {
    const set = new DesiredPeers();
    const cache = new ObservedCache();
    const apply = (changes: ReturnType<DesiredPeers['replace']>): void => {
      const p = planChanges(changes, set, cache.view);
      for (const op of p.removals) cache.applied(op);
      for (const peer of p.peers) for (const op of peer.ops) cache.applied(op);
      assert.equal(planSize(plan(set.peers.values(), cache.view)), 0);
    };
    const peers = Array.from({ length: 20 }, (_, i) => c(i));
    apply(set.replace(accepted(peers)));
    assert.deepEqual(cache.size, { neighbours: 20, fdb: 20, routes: 20 });
    // one MAC changes, one public IP changes, one peer leaves, one arrives
    const next = peers.slice(1).map((p, i) => (i === 0 ? { ...p, vtepMAC: '02:00:00:00:02:01' } : i === 1 ? { ...p, publicIP: '192.168.2.2' } : p));
    next.push({ ...c(99), subnet: '10.234.99.0/24' });
    const changes = set.replace(accepted(next));
    assert.equal(changes.length, 4, JSON.stringify(changes));
    apply(changes);
    assert.deepEqual(cache.size, { neighbours: 20, fdb: 20, routes: 20 });
  });
});
