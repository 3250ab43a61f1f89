import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DriftFilter } from '../../src/overlay/drift-filter.js';

const dev = { index: 7, name: 'flannel.1' };
const wanted = {
  neighbourMac: new Map([['10.234.0.0', '5a:09:44:c7:a3:fb']]),
  fdbDst: new Map([['5a:09:44:c7:a3:fb', '192.168.0.72']]),
  peers: new Map([['10.234.0.0/24', {}]]),
};
const none = { drift: false, device: false };

void describe('drift filter', () => {
  void test('someone else deleting our objects is drift; the same deletions sent by us are not', () => {
    let now = 1000;
    const f = new DriftFilter(() => now);
    const neighDel = { kind: 'neigh', op: 'del', family: 2, index: 7, ip: '10.234.0.0', permanent: true } as const;
    const fdbDel = { kind: 'neigh', op: 'del', family: 7, index: 7, ip: '192.168.0.72', mac: '5a:09:44:c7:a3:fb', permanent: true } as const;
    const routeDel = { kind: 'route', op: 'del', dst: '10.234.0.0/24', oif: 7, table: 254 } as const;
    for (const e of [neighDel, fdbDel, routeDel]) assert.deepEqual(f.classify(e, dev, wanted), { drift: true, device: false });
    f.expect([
      { type: 'neigh-del', ip: '10.234.0.0' },
      { type: 'fdb-del', mac: '5a:09:44:c7:a3:fb', dst: '192.168.0.72' },
      { type: 'route-del', dst: '10.234.0.0/24' },
    ]);
    for (const e of [neighDel, fdbDel, routeDel]) assert.deepEqual(f.classify(e, dev, wanted), none);
    // each expectation is used once, and expires
    assert.equal(f.classify(routeDel, dev, wanted).drift, true);
    f.expect([{ type: 'route-del', dst: '10.234.0.0/24' }]);
    now += 60_000;
    assert.equal(f.classify(routeDel, dev, wanted).drift, true);
  });

  void test('additions: ours are not drift, a wrong MAC, a foreign FDB entry or route are', () => {
    const f = new DriftFilter();
    assert.deepEqual(f.classify({ kind: 'neigh', op: 'new', family: 2, index: 7, ip: '10.234.0.0', mac: '5a:09:44:c7:a3:fb', permanent: true }, dev, wanted), none);
    assert.equal(f.classify({ kind: 'neigh', op: 'new', family: 2, index: 7, ip: '10.234.0.0', mac: '02:00:00:00:00:99', permanent: true }, dev, wanted).drift, true);
    assert.deepEqual(f.classify({ kind: 'neigh', op: 'new', family: 2, index: 7, ip: '10.234.5.5', permanent: false }, dev, wanted), none, 'the kernel’s own resolution attempts are not drift');
    assert.equal(f.classify({ kind: 'neigh', op: 'new', family: 7, index: 7, ip: '192.168.0.99', mac: '5a:09:44:c7:a3:fb', permanent: true }, dev, wanted).drift, true);
    assert.equal(f.classify({ kind: 'route', op: 'new', dst: '10.234.9.0/24', oif: 7, table: 254 }, dev, wanted).drift, true);
    assert.deepEqual(f.classify({ kind: 'route', op: 'new', dst: '10.234.0.0/24', oif: 7, table: 254 }, dev, wanted), none);
  });

  void test('other devices and tables are not ours; the device itself and its address are', () => {
    const f = new DriftFilter();
    assert.deepEqual(f.classify({ kind: 'neigh', op: 'del', family: 2, index: 3, ip: '10.0.0.1', permanent: true }, dev, wanted), none);
    assert.deepEqual(f.classify({ kind: 'route', op: 'del', dst: '10.234.0.0/24', oif: 3, table: 254 }, dev, wanted), none);
    assert.deepEqual(f.classify({ kind: 'route', op: 'del', dst: '10.234.0.0/24', oif: 7, table: 255 }, dev, wanted), none);
    assert.deepEqual(f.classify({ kind: 'link', op: 'del', index: 7, name: 'flannel.1' }, dev, wanted), { drift: true, device: true });
    assert.deepEqual(f.classify({ kind: 'link', op: 'new', index: 7, name: 'flannel.1' }, dev, wanted), { drift: false, device: true });
    assert.deepEqual(f.classify({ kind: 'link', op: 'del', index: 3, name: 'eth0' }, dev, wanted), none);
    assert.deepEqual(f.classify({ kind: 'addr', op: 'del', index: 7, address: '10.234.3.0' }, dev, wanted), { drift: false, device: true });
  });
});
