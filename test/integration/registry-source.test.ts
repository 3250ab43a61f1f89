/**
 * The etcd peer source against a real etcd: initial list, watch add/remove, a lease deleted by
 * hand, compaction while partitioned (re-list and diff), and an etcd outage (keep the last peers,
 * report not ready, resync on return).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { createLogger } from '../../src/log.js';
import { AgentError } from '../../src/errors.js';
import { EtcdPeerSource } from '../../src/registry/etcd-peer-source.js';
import type { Peer } from '../../src/registry/peer-source.js';
import { waitFor, sleep } from '../helpers/exec.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { deleteLease, leaseKey, PREFIX, writeFlannelLease, writeNetworkConfig } from '../helpers/registry-flannel.js';
import { startTcpProxy, type TcpProxy } from '../helpers/registry-tcp-proxy.js';

const log = createLogger({ level: 'silent' });
const overlay = { vni: 1, port: 8472, network: '', subnet: '' };

function recorder(): { deliveries: (readonly Peer[])[]; latest(): string[] } {
  const deliveries: (readonly Peer[])[] = [];
  return { deliveries, latest: () => (deliveries.at(-1) ?? []).map((p) => `${p.subnet}>${p.publicIP}`) };
}

describe('etcd peer source', () => {
  let etcd: EtcdServer;
  let admin: Etcd3;

  before(async () => {
    etcd = await startEtcd();
    admin = new Etcd3({ hosts: etcd.endpoint });
  });
  after(async () => {
    admin?.close();
    await etcd?.cleanup();
  });

  test('lists, watches adds and removals, skips its own lease and a hand-deleted lease', async () => {
    const prefix = `${PREFIX}-a`;
    await writeNetworkConfig(admin, { Network: '10.234.0.0/16', Backend: { Type: 'vxlan' } }, prefix);
    await writeFlannelLease(admin, '10.234.1.0/24', '192.168.77.1', 'fe:3f:4a:8c:74:01', { prefix });
    await writeFlannelLease(admin, '10.234.2.0/24', '192.168.77.2', 'fe:3f:4a:8c:74:02', { prefix });
    await writeFlannelLease(admin, '10.234.3.0/24', '192.168.77.3', 'fe:3f:4a:8c:74:03', { prefix }); // ours
    const client = new Etcd3({ hosts: etcd.endpoint });
    const rec = recorder();
    const source = new EtcdPeerSource({ client, prefix, overlay, log, ownSubnet: () => '10.234.3.0/24' });
    try {
      await source.start((peers) => rec.deliveries.push(peers));
      assert.deepEqual(rec.latest(), ['10.234.1.0/24>192.168.77.1', '10.234.2.0/24>192.168.77.2']);
      const first = rec.deliveries.at(-1)?.[0];
      assert.deepEqual({ ...first, order: undefined, revision: undefined }, { subnet: '10.234.1.0/24', publicIP: '192.168.77.1', vtepMAC: 'fe:3f:4a:8c:74:01', source: 'etcd', key: leaseKey('10.234.1.0/24', prefix), order: undefined, revision: undefined });
      // The claim order is the key's create revision, so later writes sort after it.
      assert.ok((first?.order ?? 0) > 0 && (first?.order ?? 0) < (rec.deliveries.at(-1)?.[1]?.order ?? 0));
      assert.equal(source.ready().ready, true);

      await writeFlannelLease(admin, '10.234.4.0/24', '192.168.77.4', 'fe:3f:4a:8c:74:04', { prefix });
      await waitFor('the added lease', () => rec.latest().includes('10.234.4.0/24>192.168.77.4'));
      await deleteLease(admin, '10.234.1.0/24', prefix);
      await waitFor('the deleted lease gone', () => !rec.latest().includes('10.234.1.0/24>192.168.77.1'));
      assert.deepEqual(rec.latest(), ['10.234.2.0/24>192.168.77.2', '10.234.4.0/24>192.168.77.4']);

      // A lease that expires (its etcd lease revoked) is removed like a delete.
      const id = await writeFlannelLease(admin, '10.234.5.0/24', '192.168.77.5', 'fe:3f:4a:8c:74:05', { prefix });
      await waitFor('lease 5 added', () => rec.latest().includes('10.234.5.0/24>192.168.77.5'));
      await admin.leaseClient.leaseRevoke({ ID: id });
      await waitFor('lease 5 expired', () => !rec.latest().includes('10.234.5.0/24>192.168.77.5'));

      // Re-writing a lease with the same content (a renewal) delivers nothing new.
      const before = rec.deliveries.length;
      await writeFlannelLease(admin, '10.234.2.0/24', '192.168.77.2', 'fe:3f:4a:8c:74:02', { prefix });
      await writeFlannelLease(admin, '10.234.6.0/24', '192.168.77.6', 'fe:3f:4a:8c:74:06', { prefix });
      await waitFor('lease 6', () => rec.latest().includes('10.234.6.0/24>192.168.77.6'));
      assert.equal(rec.deliveries.length, before + 1);
      assert.ok(rec.deliveries.every((d) => d.length > 0), 'never an empty set');
    } finally {
      await source.stop();
      client.close();
    }
  });

  test('a VNI mismatch with the registry rejects start with a clear error', async () => {
    const prefix = `${PREFIX}-b`;
    await writeNetworkConfig(admin, { Network: '10.234.0.0/16', Backend: { Type: 'vxlan', VNI: 4 } }, prefix);
    const client = new Etcd3({ hosts: etcd.endpoint });
    const source = new EtcdPeerSource({ client, prefix, overlay, log });
    try {
      await assert.rejects(source.start(() => undefined), (err: unknown) => {
        assert.ok(AgentError.is(err));
        assert.equal(err.code, 'MNA_CONFIG_INVALID');
        assert.match(err.message, /overlay.vni is 1 but etcd key \/coreos.com\/network-b\/config says Backend.VNI 4/);
        return true;
      });
      const missing = new EtcdPeerSource({ client, prefix: `${PREFIX}-none`, overlay, log });
      await assert.rejects(missing.start(() => undefined), /network-none\/config is missing/);
    } finally {
      await source.stop();
      client.close();
    }
  });

  test('compaction while partitioned: re-lists and diffs instead of wedging (flannel #2470)', async () => {
    const prefix = `${PREFIX}-c`;
    await writeNetworkConfig(admin, { Network: '10.234.0.0/16', Backend: { Type: 'vxlan' } }, prefix);
    await writeFlannelLease(admin, '10.234.1.0/24', '192.168.78.1', 'fe:3f:4a:8c:75:01', { prefix });
    await writeFlannelLease(admin, '10.234.2.0/24', '192.168.78.2', 'fe:3f:4a:8c:75:02', { prefix });
    let proxy: TcpProxy | undefined;
    let client: Etcd3 | undefined;
    const rec = recorder();
    let source: EtcdPeerSource | undefined;
    try {
      proxy = await startTcpProxy('127.0.0.1', etcd.clientPort);
      client = new Etcd3({ hosts: proxy.endpoint });
      source = new EtcdPeerSource({ client, prefix, overlay, log });
      await source.start((peers) => rec.deliveries.push(peers));
      assert.deepEqual(rec.latest(), ['10.234.1.0/24>192.168.78.1', '10.234.2.0/24>192.168.78.2']);
      const s = source;
      await proxy.cut();
      await waitFor('not ready while partitioned', () => !s.ready().ready);
      assert.match(s.ready().reason ?? '', /etcd unreachable/);
      const deliveredBefore = rec.deliveries.length;
      // Meanwhile: one lease goes, one comes, and the history is compacted past our revision.
      await deleteLease(admin, '10.234.1.0/24', prefix);
      await writeFlannelLease(admin, '10.234.3.0/24', '192.168.78.3', 'fe:3f:4a:8c:75:03', { prefix });
      const rev = (await admin.get(leaseKey('10.234.3.0/24', prefix)).exec()).header.revision;
      await admin.maintenance.status();
      await admin.kv.compact({ revision: rev, physical: true });
      assert.equal(rec.deliveries.length, deliveredBefore, 'nothing delivered during the partition');
      await proxy.restore();
      await waitFor('re-listed after compaction', () => rec.latest().join() === '10.234.2.0/24>192.168.78.2,10.234.3.0/24>192.168.78.3', 20_000);
      await waitFor('ready again', () => s.ready().ready, 10_000);
      const status = s.status();
      assert.ok(Number(status.compactions) >= 1, `compactions: ${JSON.stringify(status)}`);
      assert.ok(Number(status.lists) >= 2);
      // And the watch works after the re-list.
      await writeFlannelLease(admin, '10.234.4.0/24', '192.168.78.4', 'fe:3f:4a:8c:75:04', { prefix });
      await waitFor('watch resumed', () => rec.latest().includes('10.234.4.0/24>192.168.78.4'));
      assert.ok(rec.deliveries.every((d) => d.length > 0), 'never an empty set');
    } finally {
      await source?.stop();
      client?.close();
      await proxy?.close();
    }
  });

  test('etcd down: keeps the last peers, reports not ready with the reason, resyncs on return', async () => {
    const prefix = `${PREFIX}-d`;
    await writeNetworkConfig(admin, { Network: '10.234.0.0/16', Backend: { Type: 'vxlan' } }, prefix);
    await writeFlannelLease(admin, '10.234.1.0/24', '192.168.79.1', 'fe:3f:4a:8c:76:01', { prefix });
    const client = new Etcd3({ hosts: etcd.endpoint });
    const rec = recorder();
    const source = new EtcdPeerSource({ client, prefix, overlay, log });
    try {
      await source.start((peers) => rec.deliveries.push(peers));
      assert.deepEqual(rec.latest(), ['10.234.1.0/24>192.168.79.1']);
      const deliveredBefore = rec.deliveries.length;
      await etcd.stop();
      await waitFor('not ready', () => !source.ready().ready);
      assert.match(source.ready().reason ?? '', /etcd unreachable/);
      assert.equal(source.status().connected, false);
      await sleep(1500);
      assert.equal(rec.deliveries.length, deliveredBefore, 'the outage delivered nothing (last peers stay)');
      await etcd.start();
      await waitFor('ready after etcd returned', () => source.ready().ready, 20_000);
      await writeFlannelLease(admin, '10.234.2.0/24', '192.168.79.2', 'fe:3f:4a:8c:76:02', { prefix });
      await waitFor('new lease after the outage', () => rec.latest().join() === '10.234.1.0/24>192.168.79.1,10.234.2.0/24>192.168.79.2', 15_000);
    } finally {
      await source.stop();
      client.close();
    }
  });

  test('etcd replaced by an empty cluster on the same address: re-lists instead of resuming old revisions', async () => {
    // Runs last: it wipes this suite's etcd.
    const prefix = `${PREFIX}-e`;
    await writeNetworkConfig(admin, { Network: '10.234.0.0/16', Backend: { Type: 'vxlan' } }, prefix);
    for (let i = 1; i <= 5; i += 1) await writeFlannelLease(admin, `10.234.${i}.0/24`, `192.168.87.${i}`, `fe:3f:4a:8c:77:0${i}`, { prefix });
    const client = new Etcd3({ hosts: etcd.endpoint });
    const rec = recorder();
    const source = new EtcdPeerSource({ client, prefix, overlay, log });
    try {
      await source.start((peers) => rec.deliveries.push(peers));
      assert.equal(rec.latest().length, 5);
      await etcd.reset();
      await writeNetworkConfig(admin, { Network: '10.234.0.0/16', Backend: { Type: 'vxlan' } }, prefix);
      await writeFlannelLease(admin, '10.234.9.0/24', '192.168.87.9', 'fe:3f:4a:8c:77:09', { prefix });
      await waitFor('the new cluster listed', () => rec.latest().join() === '10.234.9.0/24>192.168.87.9', 20_000);
      await writeFlannelLease(admin, '10.234.8.0/24', '192.168.87.8', 'fe:3f:4a:8c:77:08', { prefix });
      await waitFor('watching the new cluster', () => rec.latest().length === 2, 10_000);
    } finally {
      await source.stop();
      client.close();
    }
  });
});
