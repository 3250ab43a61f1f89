/**
 * The overlay controller without root: an in-memory kernel (test/helpers/fake-kernel.ts), a fake
 * registry and a fake clock stand at its boundary. Start, reload, drift and error paths; the
 * namespace tests (test/integration/overlay-*) prove the same against the real kernel.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { defaultConfig } from '../../src/config/defaults.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { OverlayController } from '../../src/overlay/controller.js';
import { deepMerge } from '../helpers/agent-process.js';
import { FakeClock, flush } from '../helpers/fake-clock.js';
import { FakeKernel } from '../helpers/fake-kernel.js';
import { fakeRegistries, peer, type FakeRegistry } from '../helpers/fake-registry.js';

const NODE = { subnet: '10.234.0.0/24', publicIP: '192.168.0.70', vtepMAC: '5a:09:44:c7:a3:fb' };
const OTHER = { subnet: '10.234.1.0/24', publicIP: '192.168.0.73', vtepMAC: '7a:b4:48:5f:69:56' };

let dir: string;
let n = 0;

interface Harness {
  kernel: FakeKernel;
  clock: FakeClock;
  controller: OverlayController;
  registries: ReturnType<typeof fakeRegistries>;
  errors: unknown[];
  config: (overlay?: Record<string, unknown>) => Config;
}

function harness(): Harness {
  const stateDir = join(dir, `state-${(n += 1)}`);
  const config = (overlay: Record<string, unknown> = {}): Config =>
    configSchema.parse(deepMerge(defaultConfig(), { stateDir, overlay: { enabled: true, subnet: '10.234.3.0/24', network: '10.234.0.0/16', underlay: { interface: 'eth0' }, peers: [NODE], resync: '30s', ...overlay } }));
  const kernel = new FakeKernel();
  const clock = new FakeClock();
  const registries = fakeRegistries();
  const errors: unknown[] = [];
  const ctx = { log: createLogger({ level: 'silent' }), metrics: new Registry(), reportError: (e: unknown) => errors.push(e) };
  const controller = new OverlayController(config(), ctx, { kernel, registries, clock, random: () => 0.5 });
  return { kernel, clock, controller, registries, errors, config };
}

/** What the kernel holds on the device for a peer, in `ip`/`bridge` terms. */
function programmed(k: FakeKernel, p: { subnet: string; publicIP: string; vtepMAC: string }): boolean {
  const vtep = p.subnet.replace(/\/\d+$/, '');
  return k.neighbours.get(vtep)?.mac === p.vtepMAC && k.fdb.get(p.vtepMAC)?.dst === p.publicIP && k.devRoutes.get(p.subnet)?.gateway === vtep;
}

const status = (h: Harness): Record<string, unknown> => h.controller.status();

void describe('overlay controller (fake kernel, no root)', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-ovc-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void test('start: the device as flannel makes it, the peer programmed, ready', async () => {
    const h = harness();
    await h.controller.start();
    const dev = h.kernel.device();
    assert.ok(dev !== undefined, 'flannel.1 created');
    assert.equal(dev.vxlan?.vni, 1);
    assert.equal(dev.vxlan?.local, '192.168.0.81');
    assert.equal(dev.mtu, 1450, 'underlay MTU - 50');
    assert.ok(h.kernel.addresses.some((a) => a.index === dev.index && a.address === '10.234.3.0' && a.prefix === 32));
    const stored = (await readFile(join(h.config().stateDir, 'vtep-mac.flannel.1'), 'utf8')).trim();
    assert.equal(dev.mac, stored, 'the VTEP MAC is the persisted one');
    assert.ok(programmed(h.kernel, NODE));
    assert.deepEqual(h.controller.ready(), { ready: true, reason: '1/1 peers programmed' });
    assert.equal((status(h).reconcile as { passes: number }).passes, 1);
    assert.equal(h.kernel.monitors.length, 1);
    assert.equal(h.kernel.monitors[0]?.running, true);
    await h.controller.stop();
    assert.equal(h.kernel.open_, false, 'stop closes the kernel');
    assert.equal(h.kernel.monitors[0]?.running, false, 'stop ends the monitor');
  });

  void test('start with a registry: registers the VTEP, takes its subnet, programs its peers', async () => {
    const h = harness();
    h.registries.prepare = (r) => {
      r.subnet = '10.234.9.0/24';
      r.peers = [peer(20), peer(21)];
    };
    const c = new OverlayController(h.config({ subnet: '', peers: [], etcd: { endpoints: ['http://127.0.0.1:2379'] } }), { log: createLogger({ level: 'silent' }), metrics: new Registry(), reportError: (e) => h.errors.push(e) }, { kernel: h.kernel, registries: h.registries, clock: h.clock });
    await c.start();
    const registry = h.registries.created[0] as FakeRegistry;
    assert.equal(h.registries.created.length, 1);
    assert.deepEqual(registry.registered, [{ publicIP: '192.168.0.81', vtepMAC: h.kernel.device()?.mac }]);
    assert.ok(h.kernel.addresses.some((a) => a.address === '10.234.9.0' && a.prefix === 32), 'the VTEP address follows the registry subnet');
    assert.ok(programmed(h.kernel, peer(20)) && programmed(h.kernel, peer(21)));
    assert.equal(((c.status().sources as Record<string, { peers: number }>).fake)?.peers, 2);
    // A lease for this VM's own subnet is never a peer (the gate refuses it even if a registry delivered it).
    registry.deliver([peer(20), peer(21), peer(9)]);
    await c.settled();
    assert.equal(h.kernel.devRoutes.has('10.234.9.0/24'), false);
    assert.equal(((c.status().refused as { reason: string }[])[0])?.reason, 'own-subnet');
    registry.reachable = false;
    assert.deepEqual(c.ready(), { ready: false, reason: 'peer source fake: registry unreachable' });
    await c.stop();
    assert.equal(registry.closes, 1, 'stop closes the registry');
  });

  void test('a failed start leaves nothing running: registry refusal', async () => {
    const h = harness();
    h.registries.prepare = (r) => (r.registerError = new Error('subnet taken by another host'));
    const c = new OverlayController(h.config({ subnet: '', etcd: { endpoints: ['http://127.0.0.1:2379'] } }), { log: createLogger({ level: 'silent' }), metrics: new Registry(), reportError: () => undefined }, { kernel: h.kernel, registries: h.registries, clock: h.clock });
    await assert.rejects(c.start(), /subnet taken by another host/);
    assert.equal(h.registries.created[0]?.closes, 1);
    assert.equal(h.kernel.open_, false);
    assert.deepEqual(h.clock.pending(), [], 'no timer left behind');
    assert.equal(c.ready().ready, false);
  });

  void test('a failed start leaves nothing running: the first pass fails (and is not retried)', async () => {
    const h = harness();
    h.kernel.failNextDump = new Error('dump interrupted');
    await assert.rejects(h.controller.start(), /first reconcile failed: dump interrupted/);
    assert.equal(h.kernel.open_, false);
    assert.equal(h.kernel.monitors[0]?.running, false);
    assert.deepEqual(h.clock.pending(), []);
    assert.deepEqual(h.errors, [], 'a start failure is the supervisor\'s to report');
  });

  void test('drift: a deleted route, neighbour and FDB entry come back after one debounced pass', async () => {
    const h = harness();
    await h.controller.start();
    const writes = h.kernel.writes.length;
    h.kernel.tamper({ deleteRoute: NODE.subnet });
    h.kernel.tamper({ deleteNeighbour: '10.234.0.0' });
    h.kernel.tamper({ deleteFdb: NODE.vtepMAC });
    assert.equal(programmed(h.kernel, NODE), false);
    await h.clock.advance(19);
    assert.equal(h.kernel.writes.length, writes, 'the burst is still being collected');
    await h.clock.advance(1);
    await h.controller.settled();
    assert.ok(programmed(h.kernel, NODE));
    assert.equal(h.kernel.writes.length - writes, 3, 'one pass rewrote exactly the three objects');
    assert.equal(status(h).driftRepairs, 3);
    assert.equal((status(h).reconcile as { passes: number }).passes, 2);
    await h.controller.stop();
  });

  void test('drift: a wrong neighbour MAC is corrected; a deleted device is re-created with every peer', async () => {
    const h = harness();
    await h.controller.start();
    h.kernel.tamper({ neighbour: { ip: '10.234.0.0', mac: '02:00:00:00:00:99', permanent: true } });
    await h.clock.advance(20);
    await h.controller.settled();
    assert.equal(h.kernel.neighbours.get('10.234.0.0')?.mac, NODE.vtepMAC);
    const before = h.kernel.device()?.index;
    h.kernel.tamper({ deleteDevice: true });
    await h.clock.advance(20);
    await h.controller.settled();
    assert.notEqual(h.kernel.device()?.index, before);
    assert.ok(programmed(h.kernel, NODE));
    await h.controller.stop();
  });

  void test('drift no event points at is repaired by the periodic resync', async () => {
    const h = harness();
    await h.controller.start();
    // Re-labelled by hand: same prefix and gateway, another protocol; no notification reaches us.
    h.kernel.tamper({ route: { dst: NODE.subnet, gateway: '10.234.0.0', onlink: true, protocol: 4, table: 254, kernel: false } }, false);
    await h.clock.advance(29_999);
    assert.equal(h.kernel.devRoutes.get(NODE.subnet)?.protocol, 4);
    await h.clock.advance(1);
    await h.controller.settled();
    assert.equal(h.kernel.devRoutes.get(NODE.subnet)?.protocol, 3, 'back to proto boot');
    await h.controller.stop();
  });

  void test('a pass that fails after start is reported and retried with backoff until it succeeds', async () => {
    const h = harness();
    await h.controller.start();
    h.kernel.failNextDump = new Error('dump interrupted');
    await h.controller.resyncNow();
    assert.equal(h.errors.length, 1);
    assert.match(String(h.errors[0]), /dump interrupted/);
    assert.equal(h.controller.ready().ready, false);
    assert.match(h.controller.ready().reason ?? '', /last reconcile failed: dump interrupted/);
    const reconcile = status(h).reconcile as { nextRetry?: { inMs: number } };
    assert.equal(reconcile.nextRetry?.inMs, 2000);
    h.kernel.tamper({ deleteRoute: NODE.subnet }, false);
    await h.clock.advance(2000);
    await h.controller.settled();
    assert.ok(programmed(h.kernel, NODE), 'the retry pass repaired what was missing');
    assert.equal(h.controller.ready().ready, true);
    await h.controller.stop();
  });

  void test('a write the kernel refuses is rolled back, held back through events and retried when its delay expires', async () => {
    const h = harness();
    h.kernel.refuse = (op) => (op.type === 'route-set' && op.dst === OTHER.subnet ? 'ENOSPC' : undefined);
    const c = new OverlayController(h.config({ peers: [NODE, OTHER] }), { log: createLogger({ level: 'silent' }), metrics: new Registry(), reportError: (e) => h.errors.push(e) }, { kernel: h.kernel, registries: h.registries, clock: h.clock });
    await c.start();
    assert.ok(programmed(h.kernel, NODE));
    assert.equal(h.kernel.neighbours.has('10.234.1.0'), false, 'the refused peer\'s neighbour was taken out again');
    assert.equal(h.kernel.fdb.has(OTHER.vtepMAC), false);
    const st = c.status() as { peers: { programmed: number; failed: string[] }; retrying: { entry: string; retryInMs: number }[] };
    assert.deepEqual(st.peers.failed, [OTHER.subnet]);
    assert.equal(st.peers.programmed, 1);
    assert.equal(st.retrying[0]?.retryInMs, 1000);
    const attempts = (): number => h.kernel.writes.filter((op) => op.type === 'route-set' && op.dst === OTHER.subnet).length;
    assert.equal(attempts(), 1);
    h.kernel.tamper({ deleteNeighbour: '10.234.0.0' });
    await h.clock.advance(20);
    await c.settled();
    assert.equal(attempts(), 1, 'an event pass does not retry a held entry');
    h.kernel.refuse = undefined;
    await h.clock.advance(1000);
    await c.settled();
    assert.equal(attempts(), 2);
    assert.ok(programmed(h.kernel, OTHER));
    assert.deepEqual((c.status() as { peers: { failed: string[] } }).peers.failed, []);
    await c.stop();
  });

  void test('reload: peer changes applied; a renamed device replaces the old one', async () => {
    const h = harness();
    await h.controller.start();
    const newMac = '02:aa:bb:cc:dd:01';
    await h.controller.reload(h.config({ peers: [{ ...NODE, vtepMAC: newMac }, OTHER] }));
    assert.ok(programmed(h.kernel, { ...NODE, vtepMAC: newMac }));
    assert.equal(h.kernel.fdb.has(NODE.vtepMAC), false, 'the old MAC\'s FDB entry is gone');
    assert.ok(programmed(h.kernel, OTHER));
    await h.controller.reload(h.config({ device: 'vx0' }));
    assert.equal(h.kernel.device('flannel.1'), undefined, 'the old device is deleted');
    assert.ok(h.kernel.device('vx0') !== undefined);
    assert.equal(h.kernel.devRoutes.has(OTHER.subnet), false);
    assert.equal(h.kernel.devRoutes.get(NODE.subnet)?.gateway, '10.234.0.0');
    await h.controller.stop();
  });

  void test('reload: the registry keeps running when its settings stay, is replaced when they change', async () => {
    const h = harness();
    h.registries.prepare = (r) => (r.peers = [peer(20)]);
    const etcd = { endpoints: ['http://127.0.0.1:2379'] };
    const c = new OverlayController(h.config({ subnet: '', peers: [], etcd }), { log: createLogger({ level: 'silent' }), metrics: new Registry(), reportError: (e) => h.errors.push(e) }, { kernel: h.kernel, registries: h.registries, clock: h.clock });
    await c.start();
    const first = h.registries.created[0] as FakeRegistry;
    await c.reload(h.config({ subnet: '', peers: [NODE], etcd, resync: '10s' }));
    assert.equal(h.registries.created.length, 1);
    assert.deepEqual([first.registered.length, first.starts, first.stops, first.closes], [1, 1, 0, 0], 'same instance, not re-registered, still delivering');
    assert.ok(programmed(h.kernel, peer(20)) && programmed(h.kernel, NODE));
    // It still delivers after the reload, and what it delivered before stays (it is not "holding").
    first.deliver([peer(20), peer(22)]);
    await c.settled();
    assert.ok(programmed(h.kernel, peer(22)));
    assert.equal((c.status() as { holding?: string[] }).holding, undefined);
    await c.reload(h.config({ subnet: '', peers: [NODE], etcd: { ...etcd, prefix: '/other' } }));
    const second = h.registries.created[1] as FakeRegistry;
    assert.equal(first.closes, 1, 'the old registry is closed');
    assert.equal(second.registered.length, 1, 'the new one registers this VM');
    assert.equal(second.starts, 1);
    assert.ok(programmed(h.kernel, peer(20)));
    assert.equal(h.kernel.devRoutes.has('10.234.22.0/24'), false, 'the new registry\'s set replaced the old one');
    await c.stop();
    assert.equal(second.closes, 1);
  });

  void test('a registry that has not delivered since start removes nothing (an outage never empties the VM)', async () => {
    const h = harness();
    h.registries.prepare = (r) => (r.peers = undefined);
    const c = new OverlayController(h.config({ etcd: { endpoints: ['http://127.0.0.1:2379'] } }), { log: createLogger({ level: 'silent' }), metrics: new Registry(), reportError: (e) => h.errors.push(e) }, { kernel: h.kernel, registries: h.registries, clock: h.clock });
    // Left on the device by a previous run: a stale peer the registry would no longer list.
    h.kernel.open();
    await h.kernel.ensureDevice({ name: 'flannel.1', vni: 1, port: 8472, local: '192.168.0.81', underlayIndex: 2, mtu: 1450, mac: '02:00:00:00:00:81', vtep: '10.234.3.0' });
    await h.kernel.write({ index: h.kernel.device()?.index ?? 0, name: 'flannel.1' }, [{ type: 'route-set', dst: '10.234.40.0/24', gateway: '10.234.40.0' }]);
    h.kernel.close();
    await c.start();
    assert.ok(h.kernel.devRoutes.has('10.234.40.0/24'), 'kept while the registry has not listed');
    assert.deepEqual((c.status() as { holding?: string[] }).holding, ['fake']);
    (h.registries.created[0] as FakeRegistry).deliver([peer(20)]);
    await c.settled();
    assert.equal(h.kernel.devRoutes.has('10.234.40.0/24'), false, 'removed once the registry has listed');
    assert.ok(programmed(h.kernel, peer(20)));
    await c.stop();
  });

  void test('stop: later kernel events and registry deliveries change nothing', async () => {
    const h = harness();
    await h.controller.start();
    await h.controller.stop();
    const writes = h.kernel.writes.length;
    h.kernel.monitors[0]?.emit('event', { kind: 'route', op: 'del', dst: NODE.subnet, oif: h.kernel.device()?.index, table: 254 });
    await h.clock.advance(60_000);
    await flush();
    assert.equal(h.kernel.writes.length, writes);
    assert.deepEqual(h.clock.pending(), []);
  });
});
