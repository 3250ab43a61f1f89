import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergePeers } from '../../src/overlay/peer-merge.js';
import { parseSubnet } from '../../src/overlay/subnet.js';

const own = parseSubnet('10.234.3.0/24');
const cfgPeer = { subnet: '10.234.0.0/24', publicIP: '192.168.0.72', vtepMAC: '5A:09:44:C7:A3:FB', source: 'config' };
const etcdSame = { ...cfgPeer, vtepMAC: '5a:09:44:c7:a3:fb', source: 'etcd' };
const etcdOther = { subnet: '10.234.0.0/24', publicIP: '192.168.0.99', vtepMAC: '02:00:00:00:00:09', source: 'etcd' };
const etcdNew = { subnet: '10.234.1.0/24', publicIP: '192.168.0.73', vtepMAC: '7a:b4:48:5f:69:56', source: 'etcd' };

void describe('peer merge', () => {
  void test('union of sources, normalized, agreeing duplicates are not conflicts', () => {
    const r = mergePeers([{ source: 'config', peers: [cfgPeer] }, { source: 'etcd', peers: [etcdSame, etcdNew] }], own, new Map());
    assert.deepEqual([...r.peers.keys()].sort(), ['10.234.0.0/24', '10.234.1.0/24']);
    assert.equal(r.peers.get('10.234.0.0/24')?.vtepMAC, '5a:09:44:c7:a3:fb');
    assert.equal(r.peers.get('10.234.0.0/24')?.vtep, '10.234.0.0');
    assert.deepEqual(r.conflicts, []);
  });

  void test('a conflict keeps the first source and is reported', () => {
    const r = mergePeers([{ source: 'config', peers: [cfgPeer] }, { source: 'etcd', peers: [etcdOther] }], own, new Map());
    assert.equal(r.peers.get('10.234.0.0/24')?.publicIP, '192.168.0.72');
    assert.equal(r.conflicts.length, 1);
    assert.equal(r.conflicts[0]?.ignored.publicIP, '192.168.0.99');
  });

  void test('a conflict keeps the entry already programmed (the oldest), not the first source', () => {
    const previous = new Map([['10.234.0.0/24', { publicIP: '192.168.0.99', vtepMAC: '02:00:00:00:00:09', source: 'etcd' }]]);
    const r = mergePeers([{ source: 'config', peers: [cfgPeer] }, { source: 'etcd', peers: [etcdOther] }], own, previous);
    assert.equal(r.peers.get('10.234.0.0/24')?.publicIP, '192.168.0.99');
    assert.equal(r.conflicts[0]?.ignored.source, 'config');
  });

  void test('a peer overlapping our own subnet is dropped and reported', () => {
    const r = mergePeers([{ source: 'etcd', peers: [{ subnet: '10.234.3.0/24', publicIP: '192.168.0.81', vtepMAC: '02:00:00:00:00:01', source: 'etcd' }] }], own, new Map());
    assert.equal(r.peers.size, 0);
    assert.match(r.conflicts[0]?.reason ?? '', /overlaps this host's subnet/);
  });
});
