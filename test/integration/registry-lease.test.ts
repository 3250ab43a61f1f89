/**
 * The lease keeper against a real etcd: the exact flanneld format under a 24 h etcd lease, a race
 * between acquirers, reuse of the lease carrying our IP and of the persisted subnet, never taking
 * another host's lease, never publishing a foreign address, and re-acquisition when ours vanishes.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { Registry } from 'prom-client';
import type { OverlayConfig } from '../../src/config/schema.js';
import { AgentError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { EtcdLeaseKeeper } from '../../src/registry/etcd-lease-keeper.js';
import { EtcdRegistry } from '../../src/registry/etcd-registry.js';
import { waitFor } from '../helpers/exec.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { startTcpProxy } from '../helpers/registry-tcp-proxy.js';
import { deleteLease, flannelLeaseJson, leaseKey, PREFIX, writeFlannelLease, writeNetworkConfig } from '../helpers/registry-flannel.js';

const log = createLogger({ level: 'silent' });
const anyAddressIsLocal = (): boolean => true;

describe('etcd lease keeper', () => {
  let etcd: EtcdServer;
  let admin: Etcd3;
  let dir: string;
  let n = 0;

  before(async () => {
    etcd = await startEtcd();
    admin = new Etcd3({ hosts: etcd.endpoint });
    dir = await mkdtemp(join(tmpdir(), 'mna-lease-'));
  });
  after(async () => {
    admin?.close();
    await etcd?.cleanup();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh prefix with flannel's network config written, like an operator did for flanneld. */
  async function network(config: Record<string, unknown> = { Network: '10.234.0.0/16', Backend: { Type: 'vxlan' } }): Promise<string> {
    n += 1;
    const prefix = `${PREFIX}-l${n}`;
    await writeNetworkConfig(admin, config, prefix);
    return prefix;
  }

  let lostRaces = 0;
  function keeper(client: Etcd3, prefix: string, publicIP: string, vtepMAC: string, extra: { subnet?: string; stateDir?: string } = {}): EtcdLeaseKeeper {
    return new EtcdLeaseKeeper({
      client,
      prefix,
      overlay: { vni: 1, port: 8472, network: '', subnet: extra.subnet ?? '' },
      stateDir: extra.stateDir ?? join(dir, `state-${publicIP}-${n}`),
      log,
      publicIP,
      vtepMAC,
      isLocalAddress: anyAddressIsLocal,
      onWrite: (kind) => (lostRaces += kind === 'lost-race' ? 1 : 0),
    });
  }

  test('writes the lease exactly as flanneld does, under a 24 h etcd lease, and persists the subnet', async () => {
    const prefix = await network();
    const stateDir = join(dir, 'format');
    const k = keeper(admin, prefix, '192.168.77.72', 'FE:3F:4A:8C:74:A4', { stateDir });
    try {
      const subnet = await k.acquire();
      assert.match(subnet, /^10\.234\.\d+\.0\/24$/);
      const res = await admin.get(leaseKey(subnet, prefix)).exec();
      const kv = res.kvs[0];
      assert.ok(kv !== undefined);
      assert.equal(kv.key.toString(), `${prefix}/subnets/${subnet.replace('/', '-')}`);
      assert.equal(kv.value.toString(), '{"PublicIP":"192.168.77.72","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"fe:3f:4a:8c:74:a4"}}');
      assert.notEqual(kv.lease, '0', 'attached to an etcd lease');
      const ttl = await admin.leaseClient.leaseTimeToLive({ ID: kv.lease });
      assert.equal(Number(ttl.grantedTTL), 86_400);
      assert.ok(Number(ttl.TTL) > 86_000);
      const persisted = JSON.parse(await readFile(join(stateDir, 'etcd-lease.json'), 'utf8')) as { subnet: string };
      assert.equal(persisted.subnet, subnet);
      assert.deepEqual(k.ready(), { ready: true });
    } finally {
      await k.stop();
    }
  });

  test('lease race: acquirers starting at once with no subnet configured get different subnets', async () => {
    const prefix = await network();
    const clients = [new Etcd3({ hosts: etcd.endpoint }), new Etcd3({ hosts: etcd.endpoint })];
    const keepers = clients.map((c, i) => keeper(c, prefix, `192.168.80.${i + 1}`, `02:00:00:00:80:0${i + 1}`));
    try {
      const subnets = await Promise.all(keepers.map((k) => k.acquire()));
      assert.notEqual(subnets[0], subnets[1]);
      const listing = await admin.getAll().prefix(`${prefix}/subnets/`).strings();
      assert.equal(Object.keys(listing).length, 2);
      assert.equal(listing[leaseKey(subnets[0] ?? '', prefix)], flannelLeaseJson('192.168.80.1', '02:00:00:00:80:01'));
      assert.equal(listing[leaseKey(subnets[1] ?? '', prefix)], flannelLeaseJson('192.168.80.2', '02:00:00:00:80:02'));
    } finally {
      for (const k of keepers) await k.stop();
      for (const c of clients) c.close();
    }
  });

  test('lease race in a network of three subnets: five acquirers, three win distinct subnets, none overwritten', async () => {
    // A /28 with /30 subnets leaves three leases (the first subnet is skipped): collisions are
    // near certain, so the lost-race path runs; the losers beyond capacity are refused clearly.
    const prefix = await network({ Network: '10.9.0.0/28', Backend: { Type: 'vxlan' } });
    const clients = Array.from({ length: 5 }, () => new Etcd3({ hosts: etcd.endpoint }));
    const keepers = clients.map((c, i) => keeper(c, prefix, `192.168.81.${i + 1}`, `02:00:00:00:81:0${i + 1}`));
    try {
      const racesBefore = lostRaces;
      const results = await Promise.allSettled(keepers.map((k) => k.acquire()));
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      assert.equal(won.length, 3, JSON.stringify(results));
      assert.equal(new Set(won).size, 3);
      assert.ok(lostRaces > racesBefore, 'the lost-race retry path ran');
      for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /no free \/30 left/);
      const listing = await admin.getAll().prefix(`${prefix}/subnets/`).strings();
      keepers.forEach((k, i) => {
        const held = k.heldSubnet;
        if (held !== undefined) assert.equal(listing[leaseKey(held, prefix)], flannelLeaseJson(`192.168.81.${i + 1}`, `02:00:00:00:81:0${i + 1}`));
      });
    } finally {
      for (const k of keepers) await k.stop();
      for (const c of clients) c.close();
    }
  });

  test('reuses the lease carrying our IP, then the persisted subnet after the lease is gone', async () => {
    const prefix = await network();
    const stateDir = join(dir, 'reuse');
    const first = keeper(admin, prefix, '192.168.82.1', '02:00:00:00:82:01', { stateDir });
    const subnet = await first.acquire();
    await first.stop();
    // A restart (new process, state lost) finds the lease with our address and takes it back, with a new MAC.
    const second = keeper(admin, prefix, '192.168.82.1', '02:00:00:00:82:99', { stateDir: join(dir, 'reuse-elsewhere') });
    assert.equal(await second.acquire(), subnet);
    assert.equal(await admin.get(leaseKey(subnet, prefix)).string(), flannelLeaseJson('192.168.82.1', '02:00:00:00:82:99'));
    await second.stop();
    // The key expired meanwhile (deleted here): the subnet persisted in stateDir is asked for again.
    await deleteLease(admin, subnet, prefix);
    await writeFlannelLease(admin, '10.234.1.0/24', '192.168.82.50', '02:00:00:00:82:50', { prefix });
    const third = keeper(admin, prefix, '192.168.82.1', '02:00:00:00:82:01', { stateDir });
    assert.equal(await third.acquire(), subnet);
    await third.stop();
  });

  test('a restart keeps its etcd lease (same key, same ID); a lost state or a moved subnet leaves no keyless lease', async () => {
    const prefix = await network();
    const stateDir = join(dir, 'keep');
    const leaseOf = async (subnet: string): Promise<string | undefined> => (await admin.get(leaseKey(subnet, prefix)).exec()).kvs[0]?.lease;
    const keys = async (id: string): Promise<{ ttl: number; keys: number }> => {
      const r = await admin.leaseClient.leaseTimeToLive({ ID: id, keys: true });
      return { ttl: Number(r.TTL), keys: r.keys.length };
    };
    const first = keeper(admin, prefix, '192.168.88.1', '02:00:00:00:88:01', { stateDir });
    const subnet = await first.acquire();
    const id = (await leaseOf(subnet)) ?? '';
    await first.stop();
    // A new process with the same stateDir: same key, same etcd lease, which still carries it.
    const second = keeper(admin, prefix, '192.168.88.1', '02:00:00:00:88:01', { stateDir });
    assert.equal(await second.acquire(), subnet);
    assert.equal(await leaseOf(subnet), id);
    const kept = await keys(id);
    assert.ok(kept.ttl > 0 && kept.keys === 1, JSON.stringify(kept));
    await second.stop();
    // State lost (another stateDir): the key carrying our address is taken over under a fresh
    // etcd lease, and the old one, keyless now, is revoked instead of lingering for 24 h.
    const third = keeper(admin, prefix, '192.168.88.1', '02:00:00:00:88:01', { stateDir: join(dir, 'keep-lost') });
    assert.equal(await third.acquire(), subnet);
    const id3 = (await leaseOf(subnet)) ?? '';
    assert.notEqual(id3, id);
    assert.ok((await keys(id)).ttl <= 0, 'the orphaned etcd lease was revoked');
    await third.stop();
    // The configured subnet moved: the old key goes with its etcd lease; the new one is held.
    const fourth = keeper(admin, prefix, '192.168.88.1', '02:00:00:00:88:01', { stateDir: join(dir, 'keep-lost'), subnet: '10.234.200.0/24' });
    assert.equal(await fourth.acquire(), '10.234.200.0/24');
    assert.equal(await admin.get(leaseKey(subnet, prefix)).string(), null, 'the old key went with its etcd lease');
    assert.ok((await keys(id3)).ttl <= 0);
    const id4 = (await leaseOf('10.234.200.0/24')) ?? '';
    assert.equal((await keys(id4)).keys, 1);
    await fourth.stop();
  });

  test("never takes another host's lease: a configured subnet held by another host is refused and left intact", async () => {
    const prefix = await network();
    await writeFlannelLease(admin, '10.234.7.0/24', '192.168.83.7', '02:00:00:00:83:07', { prefix });
    const k = keeper(admin, prefix, '192.168.83.1', '02:00:00:00:83:01', { subnet: '10.234.7.0/24' });
    await assert.rejects(k.acquire(), (err: unknown) => {
      assert.ok(AgentError.is(err));
      assert.match(err.message, /overlay.subnet 10.234.7.0\/24 is held by 192.168.83.7/);
      return true;
    });
    assert.equal(await admin.get(leaseKey('10.234.7.0/24', prefix)).string(), flannelLeaseJson('192.168.83.7', '02:00:00:00:83:07'));
    // A configured subnet that is free is taken as configured.
    const ok = keeper(admin, prefix, '192.168.83.1', '02:00:00:00:83:01', { subnet: '10.234.8.0/24' });
    assert.equal(await ok.acquire(), '10.234.8.0/24');
    await ok.stop();
  });

  test('never publishes an address that is not assigned to this host', async () => {
    const prefix = await network();
    const k = new EtcdLeaseKeeper({ client: admin, prefix, overlay: { vni: 1, port: 8472, network: '', subnet: '' }, stateDir: join(dir, 'foreign'), log, publicIP: '198.51.100.77', vtepMAC: '02:00:00:00:00:77' });
    await assert.rejects(k.acquire(), /198.51.100.77 is not assigned to this host/);
    assert.equal(Object.keys(await admin.getAll().prefix(`${prefix}/subnets/`).strings()).length, 0);
  });

  test('a lease deleted by hand is re-acquired (the registry notices through its watch)', async () => {
    const prefix = await network();
    const config: OverlayConfig = {
      enabled: true, vni: 1, port: 8472, device: '', underlay: { interface: '', address: '' }, network: '', subnet: '', mtu: 0, peers: [], resync: 30_000,
      etcd: { endpoints: [etcd.endpoint], prefix, tls: { ca: '', cert: '', key: '' }, register: true },
      kubernetes: { enabled: false, nodeName: '', annotationPrefix: 'flannel.alpha.coreos.com', configMap: { name: 'kube-flannel-cfg', namespaces: [] }, allocatorWait: 0 },
    };
    const client = new Etcd3({ hosts: etcd.endpoint });
    const metrics = new Registry();
    const registry = await EtcdRegistry.create({ overlay: config, stateDir: join(dir, 'vanish'), log, client, isLocalAddress: anyAddressIsLocal, metrics });
    try {
      await writeFlannelLease(admin, '10.234.1.0/24', '192.168.84.50', '02:00:00:00:84:50', { prefix });
      await registry.source.start(() => undefined);
      const subnet = await registry.ownSubnet({ publicIP: '192.168.84.1', vtepMAC: '02:00:00:00:84:01' });
      assert.ok(subnet !== undefined);
      assert.deepEqual(registry.source.current().map((p) => p.subnet), ['10.234.1.0/24'], 'our own lease is not a peer');
      assert.deepEqual(registry.ready(), { ready: true });
      const firstLease = (await admin.get(leaseKey(subnet, prefix)).exec()).kvs[0]?.lease;
      await deleteLease(admin, subnet, prefix);
      await waitFor('our lease written again', async () => (await admin.get(leaseKey(subnet, prefix)).string()) === flannelLeaseJson('192.168.84.1', '02:00:00:00:84:01'));
      const again = (await admin.get(leaseKey(subnet, prefix)).exec()).kvs[0]?.lease;
      assert.equal(again, firstLease, 'under the same etcd lease, which still lives');
      assert.equal((registry.status().lease as Record<string, unknown>).acquisitions, 2);
      assert.deepEqual(registry.source.current().map((p) => p.subnet), ['10.234.1.0/24']);
      const text = await metrics.metrics();
      assert.match(text, /mesh_node_agent_overlay_etcd_lease_writes_total\{kind="create"\} 2/);
      assert.match(text, /mesh_node_agent_overlay_etcd_peers 1/);
      assert.match(text, /mesh_node_agent_overlay_etcd_connected 1/);
    } finally {
      await registry.close();
      client.close();
    }
  });

  test('etcd unreachable at start: comes up with the persisted subnet and takes the lease once etcd answers', async () => {
    const prefix = await network();
    const stateDir = join(dir, 'outage-start');
    const first = keeper(admin, prefix, '192.168.86.1', '02:00:00:00:86:01', { stateDir });
    const subnet = await first.acquire();
    await first.stop();
    await deleteLease(admin, subnet, prefix); // its lease expired during the outage
    const proxy = await startTcpProxy('127.0.0.1', etcd.clientPort);
    await proxy.cut();
    const client = new Etcd3({ hosts: proxy.endpoint });
    const config: OverlayConfig = {
      enabled: true, vni: 1, port: 8472, device: '', underlay: { interface: '', address: '' }, network: '', subnet: '', mtu: 0, peers: [], resync: 30_000,
      etcd: { endpoints: [proxy.endpoint], prefix, tls: { ca: '', cert: '', key: '' }, register: true },
      kubernetes: { enabled: false, nodeName: '', annotationPrefix: 'flannel.alpha.coreos.com', configMap: { name: 'kube-flannel-cfg', namespaces: [] }, allocatorWait: 0 },
    };
    const registry = await EtcdRegistry.create({ overlay: config, stateDir, log, client, isLocalAddress: anyAddressIsLocal });
    try {
      assert.equal(await registry.ownSubnet({ publicIP: '192.168.86.1', vtepMAC: '02:00:00:00:86:01' }), subnet);
      assert.equal(registry.ready().ready, false);
      assert.equal(await admin.get(leaseKey(subnet, prefix)).string(), null);
      await proxy.restore();
      await waitFor('lease taken once etcd answers', async () => (await admin.get(leaseKey(subnet, prefix)).string()) === flannelLeaseJson('192.168.86.1', '02:00:00:00:86:01'), 20_000, 100);
      await registry.source.start(() => undefined);
      await waitFor('ready', () => registry.ready().ready, 10_000);
    } finally {
      await registry.close();
      client.close();
      await proxy.close();
    }
  });
});
