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

/** Waits until just after a clock second begins, so what follows runs within one second. */
async function startOfSecond(ub: UdpBatchAddon): Promise<number> {
  const s = ub.clockSeconds();
  for (let i = 0; i < 300 && ub.clockSeconds() === s; i++) await new Promise((r) => setTimeout(r, 5));
  return ub.clockSeconds();
}

const sansId = (b: Buffer): string => b.subarray(2).toString('hex');

void describe('dns reply memo (native)', () => {
  const rigs: Rig[] = [];
  after(() => rigs.forEach((r) => r.close()));

  void test('repeats of a hosts query are answered without JS, byte for byte, each with its own ID; a reload ends them', async () => {
    const r = await rig();
    rigs.push(r);
    // An answer is kept only if no clock second began while its batch was handled: start at one's beginning.
    await startOfSecond(addon());
    const first = await r.ask(buildQuery(100, 'istio-pilot', QType.A));
    assert.equal(r.resolver.stats.queries, 1, 'the first one went through the resolver');
    for (let id = 101; id < 111; id++) {
      const again = await r.ask(buildQuery(id, 'istio-pilot', QType.A));
      assert.equal(again.readUInt16BE(0), id);
      assert.equal(sansId(again), sansId(first));
    }
    assert.equal(r.resolver.stats.queries, 1, 'the repeats never reached the resolver');
    assert.equal(r.server.memoAnswered, 10);
    // Other bytes are another query: the resolver answers in the client's spelling.
    const upper = await r.ask(buildQuery(120, 'ISTIO-PILOT', QType.A));
    assert.equal(Packet.parse(upper).questions[0]?.name, 'ISTIO-PILOT');
    assert.equal(r.resolver.stats.queries, 2);
    // New tables: the memo must not answer from the old ones.
    r.resolver.routes = { ...r.resolver.routes, hosts: HostsTable.build([{ name: 'istio-pilot', addresses: ['10.7.7.7'] }], 30) };
    const reloaded = Packet.parse(await r.ask(buildQuery(121, 'istio-pilot', QType.A)));
    assert.deepEqual(reloaded.answers.map((a) => a.address), ['10.7.7.7']);
    assert.equal(r.server.memoAnswered, 10);
    // Folded statistics count the memo's answers like the resolver's own.
    const before = r.resolver.stats.bySource.hosts;
    r.server.fold(r.resolver.stats, r.cache);
    assert.equal(r.resolver.stats.bySource.hosts, before + 10);
    assert.equal(r.resolver.stats.queries, 13);
    assert.equal(r.resolver.stats.latencyCounts.reduce((a, b) => a + b, 0), 13, 'every answer in the latency histogram');
    r.server.fold(r.resolver.stats, r.cache);
    assert.equal(r.resolver.stats.queries, 13, 'folding twice adds nothing');
  });

  void test('a cache hit repeats with its TTLs counted down each second, as the cache writes them, until the entry expires', async () => {
    const ub = addon();
    const r = await rig();
    rigs.push(r);
    await startOfSecond(ub);
    putAnswer(r.cache, 'memo.example', 3);
    const q = (id: number): Buffer => buildQuery(id, 'memo.example', QType.A);
    const ttl = (b: Buffer): number | undefined => Packet.parse(b).answers[0]?.ttl;
    assert.equal(ttl(await r.ask(q(1))), 3);
    assert.equal(ttl(await r.ask(q(2))), 3);
    assert.equal(r.server.memoAnswered, 1);
    await startOfSecond(ub);
    const memoReply = await r.ask(q(3));
    assert.equal(r.server.memoAnswered, 2, 'answered by the memo in the next second');
    assert.equal(ttl(memoReply), 2);
    // The cache itself, asked in the same second (a flush of nothing but the epoch forces it), writes the same bytes.
    r.resolver.routes = { ...r.resolver.routes };
    const cacheReply = await r.ask(q(3));
    assert.equal(r.server.memoAnswered, 2);
    assert.equal(sansId(cacheReply), sansId(memoReply));
    await startOfSecond(ub);
    await startOfSecond(ub);
    // Three seconds after it was stored the entry has expired: neither the memo nor the cache has it.
    const expired = Packet.parse(await r.ask(q(4)));
    assert.equal(expired.answers.length, 0, 'not served past its TTL');
    assert.equal(r.server.memoAnswered, 2);
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
