/**
 * The measuring side of `npm run bench -- dns-hot-path` (run under the launcher's node flags): the
 * resolver's synchronous path in this process, driven the way the batched listener drives it (one
 * reused QueryContext, a SlotMemo, the native clock when the addon loads, queries read in place from
 * an input arena, answers written into 64 output slots). Per scenario: time per query against a
 * floor loop that only copies a ready answer with the client's ID, the bytes the heap grew by per
 * query over chunks no collection interrupted, and how many young-generation collections ran.
 * Prints one JSON line.
 */
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';
import { AnswerEpoch } from '../src/dns/answer-epoch.js';
import { DnsCache } from '../src/dns/cache.js';
import { nativeClock, performanceClock } from '../src/dns/clock.js';
import { HostsTable } from '../src/dns/hosts-table.js';
import { MeshTable } from '../src/dns/mesh-table.js';
import { DomainTable } from '../src/dns/names.js';
import { QueryContext } from '../src/dns/query-context.js';
import { MEMO_TTL_WORDS, SlotMemo } from '../src/dns/reply-memo.js';
import { Resolver } from '../src/dns/resolver.js';
import { DnsStats } from '../src/dns/stats.js';
import { loadUdpBatch } from '../src/dns/udp-batch.js';
import { buildQuery, copyBytes, parseQuery, QType, type Query } from '../src/dns/wire.js';

const SLOTS = 64;
const SLOT = 4096;
const CHUNK = 20_000;
const CHUNKS = 60;
const WARMUP = 300_000;

const SEED = ['istio-mixer', 'istio-policy', 'istio-telemetry', 'istio-pilot', 'istio-citadel', 'istio-ca'].flatMap((n) => [n, `${n}.istio-system`]);
const GLOBALS = Array.from({ length: 20 }, (_, i) => `svc${i}.ns${i % 3}.global`);
const CACHED = Array.from({ length: 2000 }, (_, i) => `name${i}.example.com`);

const load = loadUdpBatch();
const clock = load.addon !== undefined ? nativeClock(load.addon) : performanceClock;
const epoch = new AnswerEpoch();
const cache = new DnsCache(10_000, { maxTTL: 3600, negativeTTL: 30 }, clock.seconds, epoch);
const hosts = HostsTable.build(SEED.map((name) => ({ name, addresses: ['192.168.0.62'] })), 30);
const mesh = MeshTable.fromHosts(GLOBALS.map((host, i) => ({ host, addresses: [`240.0.0.${i + 2}`], allocated: false })), 30);
const resolver = new Resolver({ hosts, mesh, forward: new DomainTable(), upstream: undefined }, cache, new DnsStats(), 1024, clock, epoch);
for (const name of CACHED) {
  const query = buildQuery(1, name, QType.A);
  const reply = Buffer.concat([query, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 215, 14])]);
  reply.writeUInt16BE(0x8180, 2);
  reply.writeUInt16BE(1, 6);
  cache.put(parseQuery(query) as Query, reply);
}

const output = Buffer.alloc(SLOTS * SLOT);
const memo = new SlotMemo(new Uint16Array(SLOTS * MEMO_TTL_WORDS));
const ctx = new QueryContext({ tcp: false, out: output, room: SLOT, respond: () => undefined, memo });

/** The scenario's queries, each in its own 512-byte slot of one input arena (as received). */
function arena(names: readonly string[]): { input: Buffer; lengths: number[] } {
  const input = Buffer.alloc(names.length * 512);
  const lengths = names.map((name, i) => {
    const q = buildQuery(i & 0xffff, name, QType.A);
    q.copy(input, i * 512);
    return q.length;
  });
  return { input, lengths };
}

function resolve(input: Buffer, lengths: readonly number[], count: number, from: number): number {
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const k = (from + i) % lengths.length;
    const o = i % SLOTS;
    ctx.request(input, k * 512, k * 512 + lengths[k]!);
    ctx.at = o * SLOT;
    memo.begin(o);
    bytes += resolver.handle(ctx);
  }
  return bytes;
}

/** The least any server does: a ready answer copied out with the client's ID. */
const READY = Buffer.alloc(64, 7);
function floor(input: Buffer, lengths: readonly number[], count: number, from: number): number {
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const k = (from + i) % lengths.length;
    const at = (i % SLOTS) * SLOT;
    copyBytes(READY, 0, READY.length, output, at);
    output[at] = input[k * 512]!;
    output[at + 1] = input[k * 512 + 1]!;
    bytes += READY.length;
  }
  return bytes;
}

let minorGcs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minorGcs += 1;
}).observe({ entryTypes: ['gc'] });

type Loop = (input: Buffer, lengths: readonly number[], count: number, from: number) => number;

async function measure(loop: Loop, names: readonly string[]): Promise<{ nsPerQuery: number; nsBest: number; bytesPerQuery: number; cleanChunks: number; minorGcsPerMillion: number }> {
  const { input, lengths } = arena(names);
  let sink = loop(input, lengths, WARMUP, 0);
  await new Promise((r) => setImmediate(r));
  const gcsBefore = minorGcs;
  const ns: number[] = [];
  const grown: number[] = [];
  for (let c = 0; c < CHUNKS; c++) {
    const h0 = v8.getHeapStatistics().used_heap_size;
    const t0 = process.hrtime.bigint();
    sink += loop(input, lengths, CHUNK, c * CHUNK);
    const t1 = process.hrtime.bigint();
    const h1 = v8.getHeapStatistics().used_heap_size;
    ns.push(Number(t1 - t0) / CHUNK);
    // A collection during the chunk shrinks the heap: only uninterrupted chunks count.
    if (h1 >= h0) grown.push((h1 - h0) / CHUNK);
  }
  await new Promise((r) => setImmediate(r));
  if (sink === 0) throw new Error('nothing answered');
  ns.sort((a, b) => a - b);
  grown.sort((a, b) => a - b);
  return {
    nsPerQuery: ns[Math.floor(ns.length / 2)]!,
    nsBest: ns[0]!,
    bytesPerQuery: grown[Math.floor(grown.length / 2)] ?? Number.NaN,
    cleanChunks: grown.length,
    minorGcsPerMillion: ((minorGcs - gcsBefore) * 1e6) / (CHUNKS * CHUNK),
  };
}

const scenarios = { static: [...SEED, ...SEED.map((n) => `x.${n}`), ...GLOBALS], cached: CACHED };
const results: Record<string, unknown> = { clock: load.addon !== undefined ? 'native' : 'performance.now', flags: process.execArgv.filter((a) => a.startsWith('--') && a !== '--import') };
for (const [name, names] of Object.entries(scenarios)) {
  results[name] = { agent: await measure(resolve, names), floor: await measure(floor, names) };
}
const s = resolver.stats;
results['answered'] = { hosts: s.bySource.hosts, mesh: s.bySource.mesh, cache: s.bySource.cache, other: s.queries - s.bySource.hosts - s.bySource.mesh - s.bySource.cache };
console.log(JSON.stringify(results));
