/**
 * The addon's reply memo (native/udp-batch/reply_memo.h) under the real resolver, on loopback: repeats
 * of a query are answered without JS, byte for byte what the resolver would write (hosts answers
 * until the tables change; cache hits with their TTLs counted down in whole seconds, until the entry
 * expires); other bytes (letter case, flags) are not repeats; reloads and flushes end every memo;
 * what the addon answered is folded into the resolver's statistics.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Packet } from 'dns2';
import { DnsCache } from '../../src/dns/cache.js';
import { nativeClock } from '../../src/dns/clock.js';
import { HostsTable } from '../../src/dns/hosts-table.js';
import { MeshTable } from '../../src/dns/mesh-table.js';
import { DomainTable } from '../../src/dns/names.js';
import { Resolver } from '../../src/dns/resolver.js';
import { DnsStats } from '../../src/dns/stats.js';
import { AnswerEpoch } from '../../src/dns/answer-epoch.js';
import { loadUdpBatch, type UdpBatchAddon } from '../../src/dns/udp-batch.js';
import { BatchUdpServer } from '../../src/dns/udp-batch-server.js';
import { buildQuery, parseQuery, QType, type Query } from '../../src/dns/wire.js';
import { waitFor } from '../helpers/exec.js';

function addon(): UdpBatchAddon {
  const load = loadUdpBatch();
  assert.ok(load.addon !== undefined, `the udp-batch addon loads: ${'reason' in load ? load.reason : ''}`);
  return load.addon;
}

interface Rig {
  resolver: Resolver;
  cache: DnsCache;
  server: BatchUdpServer;
  port: number;
  ask: (query: Buffer) => Promise<Buffer>;
  close: () => void;
}

async function rig(hostsAddress = '192.168.0.62'): Promise<Rig> {
  const ub = addon();
  const clock = nativeClock(ub);
  const epoch = new AnswerEpoch();
  const cache = new DnsCache(100, { maxTTL: 3600, negativeTTL: 30 }, clock.seconds, epoch);
  const hosts = HostsTable.build([{ name: 'istio-pilot', addresses: [hostsAddress] }], 30);
  const resolver = new Resolver({ hosts, mesh: MeshTable.empty(), forward: new DomainTable(), upstream: undefined }, cache, new DnsStats(), 16, clock, epoch);
  const server = BatchUdpServer.start(ub, '127.0.0.1', 0, 1 << 20, () => resolver, true);
  const port = server.port;
  const client = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  const ask = (query: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply in 2 s')), 2000);
      client.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      client.send(query, port, '127.0.0.1');
    });
  return { resolver, cache, server, port, ask, close: () => (server.stop(), client.close()) };
}

/** A cached upstream answer for `name` (A, `ttl`), put as the resolver would after forwarding. */
function putAnswer(cache: DnsCache, name: string, ttl: number): void {
  const query = buildQuery(1, name, QType.A);
  const reply = Buffer.concat([query, Buffer.from([0xc0, 12, 0, 1, 0, 1, ttl >> 24, (ttl >> 16) & 0xff, (ttl >> 8) & 0xff, ttl & 0xff, 0, 4, 10, 1, 2, 3])]);
  reply.writeUInt16BE(0x8180, 2);
  reply.writeUInt16BE(1, 6);
  cache.put(parseQuery(query) as Query, reply);
}

/** Waits until just after a clock second begins (a condition on the addon's clock, with a deadline). */
async function startOfSecond(ub: UdpBatchAddon): Promise<number> {
  const s = ub.clockSeconds();
  await waitFor(`the clock second after ${s}`, () => ub.clockSeconds() !== s, 5000, 1);
  return ub.clockSeconds();
}

/**
 * Runs `attempt` until it completes within the clock seconds it needs: the addon keeps no answer
 * from a batch a second began in, and TTLs are counted in whole seconds, so an attempt that finds
 * a second began where it must not (a stalled machine) says 'again' and a fresh one starts. Bounded.
 */
async function withinSeconds(what: string, attempt: () => Promise<'again' | 'done'>): Promise<void> {
  for (let i = 0; i < 5; i++) if ((await attempt()) === 'done') return;
  assert.fail(`${what}: a clock second began mid-step in 5 attempts in a row`);
}

const sansId = (b: Buffer): string => b.subarray(2).toString('hex');

void describe('dns reply memo (native)', () => {
  const rigs: Rig[] = [];
  after(() => rigs.forEach((r) => r.close()));

  void test('repeats of a hosts query are answered without JS, byte for byte, each with its own ID; a reload ends them', async () => {
    const ub = addon();
    let first: Buffer = Buffer.alloc(0);
    let rigged: Rig | undefined;
    await withinSeconds('a hosts answer remembered', async () => {
      // A fresh rig each time: one the addon may have remembered in a later second is not reused.
      const fresh = await rig();
      rigs.push(fresh);
      const s = await startOfSecond(ub);
      first = await fresh.ask(buildQuery(100, 'istio-pilot', QType.A));
      assert.equal(fresh.resolver.stats.queries, 1, 'the first one went through the resolver');
      rigged = fresh;
      return ub.clockSeconds() === s ? 'done' : 'again';
    });
    const r = rigged!;
    const viaResolver = r.resolver.stats.queries;
    for (let id = 101; id < 111; id++) {
      const again = await r.ask(buildQuery(id, 'istio-pilot', QType.A));
      assert.equal(again.readUInt16BE(0), id);
      assert.equal(sansId(again), sansId(first));
    }
    assert.equal(r.resolver.stats.queries, viaResolver, 'the repeats never reached the resolver');
    assert.equal(r.server.memoAnswered, 10);
    // Other bytes are another query: the resolver answers in the client's spelling.
    const upper = await r.ask(buildQuery(120, 'ISTIO-PILOT', QType.A));
    assert.equal(Packet.parse(upper).questions[0]?.name, 'ISTIO-PILOT');
    assert.equal(r.resolver.stats.queries, viaResolver + 1);
    // New tables: the memo must not answer from the old ones.
    r.resolver.routes = { ...r.resolver.routes, hosts: HostsTable.build([{ name: 'istio-pilot', addresses: ['10.7.7.7'] }], 30) };
    const reloaded = Packet.parse(await r.ask(buildQuery(121, 'istio-pilot', QType.A)));
    assert.deepEqual(reloaded.answers.map((a) => a.address), ['10.7.7.7']);
    assert.equal(r.server.memoAnswered, 10);
    // Folded statistics count the memo's answers like the resolver's own.
    const before = r.resolver.stats.bySource.hosts;
    r.server.fold(r.resolver.stats, r.cache);
    assert.equal(r.resolver.stats.bySource.hosts, before + 10);
    assert.equal(r.resolver.stats.queries, viaResolver + 2 + 10);
    assert.equal(r.resolver.stats.latencyCounts.reduce((a, b) => a + b, 0), viaResolver + 2 + 10, 'every answer in the latency histogram');
    r.server.fold(r.resolver.stats, r.cache);
    assert.equal(r.resolver.stats.queries, viaResolver + 2 + 10, 'folding twice adds nothing');
  });

  void test('a cache hit repeats with its TTLs counted down each second, as the cache writes them, until the entry expires', async () => {
    const ub = addon();
    const ttl = (b: Buffer): number | undefined => Packet.parse(b).answers[0]?.ttl;
    await withinSeconds('a cache hit remembered and counted down', async () => {
      const r = await rig();
      rigs.push(r);
      const name = `memo${rigs.length}.example`;
      const q = (id: number): Buffer => buildQuery(id, name, QType.A);
      const stored = await startOfSecond(ub);
      putAnswer(r.cache, name, 3);
      const viaCache = await r.ask(q(1));
      const viaMemo = await r.ask(q(2));
      if (ub.clockSeconds() !== stored) return 'again';
      assert.equal(ttl(viaCache), 3);
      assert.equal(ttl(viaMemo), 3);
      assert.equal(r.server.memoAnswered, 1, 'the repeat answered by the memo');
      const later = await startOfSecond(ub);
      if (later - stored >= 3) return 'again';
      const memoReply = await r.ask(q(3));
      // The cache itself, asked in the same second (a flush of nothing but the epoch forces it), writes the same bytes.
      r.resolver.routes = { ...r.resolver.routes };
      const cacheReply = await r.ask(q(3));
      if (ub.clockSeconds() !== later) return 'again';
      assert.equal(r.server.memoAnswered, 2, 'answered by the memo in a later second');
      assert.equal(ttl(memoReply), 3 - (later - stored), `counted down by the ${later - stored} seconds since`);
      assert.equal(sansId(cacheReply), sansId(memoReply));
      // Three seconds after it was stored the entry has expired: neither the memo nor the cache has it.
      await waitFor('three seconds after the entry was stored', () => ub.clockSeconds() >= stored + 3, 10_000, 5);
      const expired = Packet.parse(await r.ask(q(4)));
      assert.equal(expired.answers.length, 0, 'not served past its TTL');
      assert.equal(r.server.memoAnswered, 2);
      return 'done';
    });
  });

  void test('flushing the cache ends the memo of its hits', async () => {
    const r = await rig();
    rigs.push(r);
    putAnswer(r.cache, 'flush.example', 600);
    const query = buildQuery(7, 'flush.example', QType.A);
    assert.equal(Packet.parse(await r.ask(query)).answers.length, 1);
    await r.ask(query);
    const answeredBefore = r.server.memoAnswered;
    r.cache.clear();
    assert.equal(Packet.parse(await r.ask(query)).answers.length, 0, 'after clear() the name is no longer answered from cache');
    assert.equal(r.server.memoAnswered, answeredBefore);
  });
});
