import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ObservedCache } from '../../src/overlay/observed-cache.js';
import { PeerSet } from '../../src/overlay/peer-merge.js';
import { plan, planChanges, planSize } from '../../src/overlay/plan.js';
import { parseSubnet } from '../../src/overlay/subnet.js';

const own = parseSubnet('10.234.3.0/24');
const cfgPeer = { subnet: '10.234.0.0/24', publicIP: '192.168.0.72', vtepMAC: '5A:09:44:C7:A3:FB', source: 'config' };
const etcdSame = { ...cfgPeer, vtepMAC: '5a:09:44:c7:a3:fb', source: 'etcd' };
const etcdOther = { subnet: '10.234.0.0/24', publicIP: '192.168.0.99', vtepMAC: '02:00:00:00:00:09', source: 'etcd' };
const etcdNew = { subnet: '10.234.1.0/24', publicIP: '192.168.0.73', vtepMAC: '7a:b4:48:5f:69:56', source: 'etcd' };

void describe('peer merge', () => {
  void test('union of sources, normalized, agreeing duplicates are not conflicts', () => {
    const set = new PeerSet(['config', 'etcd'], own);
    set.setSource('config', [cfgPeer]);
    set.setSource('etcd', [etcdSame, etcdNew]);
    assert.deepEqual([...set.peers.keys()].sort(), ['10.234.0.0/24', '10.234.1.0/24']);
    assert.equal(set.peers.get('10.234.0.0/24')?.vtepMAC, '5a:09:44:c7:a3:fb');
    assert.equal(set.peers.get('10.234.0.0/24')?.vtep, '10.234.0.0');
    assert.deepEqual(set.conflicts, []);
  });

  void test('a conflict keeps the first source and is reported', () => {
    const set = new PeerSet(['config', 'etcd'], own);
    set.setSource('etcd', [etcdOther]);
    set.setSource('config', [cfgPeer]);
    // etcd came first in time: it stays (the oldest), config's claim is reported
    assert.equal(set.peers.get('10.234.0.0/24')?.publicIP, '192.168.0.99');
    assert.equal(set.conflicts.length, 1);
    assert.equal(set.conflicts[0]?.ignored.source, 'config');
    const fresh = new PeerSet(['config', 'etcd'], own);
    fresh.setSource('config', [cfgPeer]);
    fresh.setSource('etcd', [etcdOther]);
    assert.equal(fresh.peers.get('10.234.0.0/24')?.publicIP, '192.168.0.72');
  });

  void test('after a reload the previously chosen peer is still preferred', () => {
    const before = new PeerSet(['etcd', 'config'], own);
    before.setSource('etcd', [etcdOther]);
    const after = new PeerSet(['config', 'etcd'], own, before.peers);
    after.setSource('config', [cfgPeer]);
    after.setSource('etcd', [etcdOther]);
    assert.equal(after.peers.get('10.234.0.0/24')?.publicIP, '192.168.0.99');
  });

  void test('only changed subnets are reported; the loser takes over when the winner leaves', () => {
    const set = new PeerSet(['config', 'etcd'], own);
    assert.equal(set.setSource('config', [cfgPeer]).length, 1);
    assert.deepEqual(set.setSource('config', [cfgPeer]), []);
    set.setSource('etcd', [etcdOther]);
    const changes = set.setSource('config', []);
    assert.equal(changes.length, 1);
    assert.equal(changes[0]?.before?.publicIP, '192.168.0.72');
    assert.equal(changes[0]?.after?.publicIP, '192.168.0.99');
    assert.deepEqual(set.conflicts, []);
  });

  void test('a peer overlapping our own subnet is dropped and reported', () => {
    const set = new PeerSet(['etcd'], own);
    set.setSource('etcd', [{ subnet: '10.234.3.0/24', publicIP: '192.168.0.81', vtepMAC: '02:00:00:00:00:01', source: 'etcd' }]);
    assert.equal(set.peers.size, 0);
    assert.match(set.conflicts[0]?.reason ?? '', /overlaps this host's subnet/);
  });

  void test('incremental plans of source updates end where a full plan of the result starts: nothing left', () => {
    const set = new PeerSet(['config'], own);
    const cache = new ObservedCache();
    const apply = (changes: ReturnType<PeerSet['setSource']>): void => {
      const p = planChanges(changes, set, cache.view);
      for (const op of p.removals) cache.applied(op);
      for (const peer of p.peers) for (const op of peer.ops) cache.applied(op);
      assert.equal(planSize(plan(set.peers.values(), cache.view)), 0);
    };
    const peers = Array.from({ length: 20 }, (_, i) => ({ subnet: `10.234.${10 + i}.0/24`, publicIP: `192.168.1.${i + 1}`, vtepMAC: `02:00:00:00:01:${(i + 16).toString(16)}`, source: 'config' }));
    apply(set.setSource('config', peers));
    assert.deepEqual(cache.size, { neighbours: 20, fdb: 20, routes: 20 });
    // one MAC changes, one public IP changes, one peer leaves, one arrives
    const next = peers.slice(1).map((p, i) => (i === 0 ? { ...p, vtepMAC: '02:00:00:00:02:01' } : i === 1 ? { ...p, publicIP: '192.168.2.2' } : p));
    next.push({ subnet: '10.234.99.0/24', publicIP: '192.168.1.99', vtepMAC: '02:00:00:00:01:99', source: 'config' });
    const changes = set.setSource('config', next);
    assert.equal(changes.length, 4);
    apply(changes);
    assert.deepEqual(cache.size, { neighbours: 20, fdb: 20, routes: 20 });
  });
});
