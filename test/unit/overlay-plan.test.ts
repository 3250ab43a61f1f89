import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ObservedCache } from '../../src/overlay/observed-cache.js';
import { plan, planSize, undo, type DesiredPeer, type Observed } from '../../src/overlay/plan.js';

const A: DesiredPeer = { subnet: '10.234.0.0/24', vtep: '10.234.0.0', publicIP: '192.168.0.72', vtepMAC: '5a:09:44:c7:a3:fb' };
const B: DesiredPeer = { subnet: '10.234.1.0/24', vtep: '10.234.1.0', publicIP: '192.168.0.73', vtepMAC: '7a:b4:48:5f:69:56' };

function programmedAs(...peers: DesiredPeer[]): Observed {
  return {
    neighbours: peers.map((p) => ({ ip: p.vtep, mac: p.vtepMAC, permanent: true })),
    fdb: peers.map((p) => ({ mac: p.vtepMAC, dst: p.publicIP, permanent: true })),
    routes: peers.map((p) => ({ dst: p.subnet, gateway: p.vtep, onlink: true, protocol: 3 })),
  };
}

const empty: Observed = { neighbours: [], fdb: [], routes: [] };

void describe('overlay planner', () => {
  void test('a new peer gets neighbour, FDB entry, route, in that order', () => {
    const p = plan([A], empty);
    assert.deepEqual(p.removals, []);
    assert.deepEqual(p.peers, [
      {
        subnet: A.subnet,
        ops: [
          { type: 'neigh-set', ip: '10.234.0.0', mac: A.vtepMAC },
          { type: 'fdb-set', mac: A.vtepMAC, dst: A.publicIP },
          { type: 'route-set', dst: A.subnet, gateway: '10.234.0.0' },
        ],
      },
    ]);
  });

  void test('matching state plans nothing (restart, no-change resync)', () => {
    assert.equal(planSize(plan([A, B], programmedAs(A, B))), 0);
  });

  void test('a removed peer is deleted in reverse order: route, FDB, neighbour', () => {
    const p = plan([A], programmedAs(A, B));
    assert.deepEqual(p.peers, []);
    assert.deepEqual(p.removals, [
      { type: 'route-del', dst: B.subnet },
      { type: 'fdb-del', mac: B.vtepMAC, dst: B.publicIP },
      { type: 'neigh-del', ip: B.vtep },
    ]);
  });

  void test('a peer whose MAC changes: neighbour replaced, new FDB entry, old FDB entry removed, route untouched', () => {
    const moved = { ...A, vtepMAC: '02:11:22:33:44:55' };
    const p = plan([moved], programmedAs(A));
    assert.deepEqual(p.removals, [{ type: 'fdb-del', mac: A.vtepMAC, dst: A.publicIP }]);
    assert.deepEqual(p.peers[0]?.ops, [
      { type: 'neigh-set', ip: A.vtep, mac: moved.vtepMAC },
      { type: 'fdb-set', mac: moved.vtepMAC, dst: A.publicIP },
    ]);
  });

  void test('a peer whose public IP changes gets its FDB entry replaced in place', () => {
    const moved = { ...A, publicIP: '192.168.0.99' };
    const p = plan([moved], programmedAs(A));
    assert.deepEqual(p.removals, []);
    assert.deepEqual(p.peers[0]?.ops, [{ type: 'fdb-set', mac: A.vtepMAC, dst: '192.168.0.99' }]);
  });

  void test('extra remotes for a desired MAC are removed, the right one kept', () => {
    const observed = programmedAs(A);
    const p = plan([A], { ...observed, fdb: [...observed.fdb, { mac: A.vtepMAC, dst: '192.168.0.200', permanent: true }] });
    assert.deepEqual(p.removals, [{ type: 'fdb-del', mac: A.vtepMAC, dst: '192.168.0.200' }]);
    assert.deepEqual(p.peers, []);
  });

  void test('a route without onlink, with a wrong gateway or protocol is replaced', () => {
    for (const route of [
      { dst: A.subnet, gateway: A.vtep, onlink: false, protocol: 3 },
      { dst: A.subnet, gateway: '10.234.0.1', onlink: true, protocol: 3 },
      { dst: A.subnet, gateway: A.vtep, onlink: true, protocol: 4 },
    ]) {
      const p = plan([A], { ...programmedAs(A), routes: [route] });
      assert.deepEqual(p.peers[0]?.ops, [{ type: 'route-set', dst: A.subnet, gateway: A.vtep }]);
    }
  });

  void test('a non-permanent neighbour for a peer is made permanent; stray non-permanent ones are left to the kernel', () => {
    const observed = programmedAs(A);
    const p = plan([A], { ...observed, neighbours: [{ ip: A.vtep, mac: A.vtepMAC, permanent: false }, { ip: '10.234.7.7', permanent: false }] });
    assert.deepEqual(p.removals, []);
    assert.deepEqual(p.peers[0]?.ops, [{ type: 'neigh-set', ip: A.vtep, mac: A.vtepMAC }]);
  });

  void test('stale permanent entries (left from an old config) are removed', () => {
    const p = plan([], { neighbours: [{ ip: '10.9.0.0', mac: '02:00:00:00:00:01', permanent: true }], fdb: [{ mac: '00:00:00:00:00:00', dst: '192.168.0.5', permanent: true }], routes: [] });
    assert.deepEqual(p.removals, [
      { type: 'fdb-del', mac: '00:00:00:00:00:00', dst: '192.168.0.5' },
      { type: 'neigh-del', ip: '10.9.0.0' },
    ]);
  });

  void test('undo reverses each set for rollback', () => {
    assert.deepEqual(undo({ type: 'neigh-set', ip: A.vtep, mac: A.vtepMAC }), { type: 'neigh-del', ip: A.vtep });
    assert.deepEqual(undo({ type: 'fdb-set', mac: A.vtepMAC, dst: A.publicIP }), { type: 'fdb-del', mac: A.vtepMAC, dst: A.publicIP });
    assert.deepEqual(undo({ type: 'route-set', dst: A.subnet, gateway: A.vtep }), { type: 'route-del', dst: A.subnet });
    assert.equal(undo({ type: 'route-del', dst: A.subnet }), undefined);
  });

  void test('the cache follows applied operations, so the next plan is empty', () => {
    const cache = new ObservedCache();
    const first = plan([A, B], cache.view);
    for (const peer of first.peers) for (const op of peer.ops) cache.applied(op);
    assert.equal(planSize(plan([A, B], cache.view)), 0);
    const second = plan([B], cache.view);
    for (const op of second.removals) cache.applied(op);
    assert.equal(planSize(plan([B], cache.view)), 0);
    assert.deepEqual(cache.size, { neighbours: 1, fdb: 1, routes: 1 });
  });
});
