import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DesiredEntry } from '../../src/overlay/desired-peers.js';
import { peerRows } from '../../src/overlay/peer-list.js';

const entry = (third: number, fourth = 0): DesiredEntry => ({
  source: third % 2 === 0 ? 'etcd' : 'config',
  key: `k${third}`,
  subnet: `10.${fourth}.${third}.0/24`,
  vtep: `10.${fourth}.${third}.0`,
  publicIP: `192.168.${fourth}.${third}`,
  vtepMAC: `02:00:00:00:${fourth.toString(16).padStart(2, '0')}:${third.toString(16).padStart(2, '0')}`,
});

void describe('overlay peer list', () => {
  void test('address order (numeric, not text), bounded, with why a peer is not programmed', () => {
    const peers = [entry(100), entry(9), entry(20), entry(1, 1)];
    const rows = peerRows(peers, (p) => (p.subnet === '10.0.20.0/24' ? 'kernel refused (2 attempts): ENOSPC' : undefined), 3);
    assert.deepEqual(rows.map((r) => r.subnet), ['10.0.9.0/24', '10.0.20.0/24', '10.0.100.0/24']);
    assert.deepEqual(rows[1], { subnet: '10.0.20.0/24', publicIP: '192.168.0.20', vtepMAC: '02:00:00:00:00:14', source: 'etcd', programmed: false, reason: 'kernel refused (2 attempts): ENOSPC' });
    assert.deepEqual(rows[0], { subnet: '10.0.9.0/24', publicIP: '192.168.0.9', vtepMAC: '02:00:00:00:00:09', source: 'config', programmed: true });
    assert.equal(peerRows([], () => undefined).length, 0);
  });
});
