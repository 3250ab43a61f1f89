/**
 * What JS and the native reply memo (native/udp-batch/reply_memo.h) share: the memo word JS writes
 * per reply, the TTL report of a cache hit, and the counters the addon keeps for the answers it gives
 * itself. The numbers are udp-batch-layout.ts's (checked against the addon's at load); this module
 * gives them their uses. The memo matches exact query bytes; JS alone decides what may be kept, and
 * for how long.
 */
import type { LocalSource, MemoSink } from './query-context.js';
import { ANSWER_SOURCES, type AnswerSource, type DnsStats } from './stats.js';
import { UDP_BATCH_LAYOUT as L } from './udp-batch-layout.js';

/**
 * Output meta word META_MEMO, what the addon may keep of a reply: `keep`; `fixed` (hosts and mesh
 * answers: valid until the epoch changes) or not (cache hits: valid until the expiry second JS wrote
 * beside it, TTLs counted down at the offsets written there); the answer source index (stats); the
 * input slot of its query (MEMO_SLOT_SHIFT).
 */
export function memoWord(fixed: boolean, source: number, inputSlot: number): number {
  return L.memoKeep | (fixed ? L.memoFixed : 0) | (source << L.memoSourceShift) | (inputSlot << L.memoSlotShift);
}

export const MEMO_SLOT_SHIFT = L.memoSlotShift;

/**
 * Where a cache hit reports, for the addon's countdown, the second its entry expires and the offset of
 * every TTL it wrote: MEMO_TTL_WORDS u16 per output slot, the count (MEMO_TTLS_OVERFLOW when more than
 * MEMO_TTLS_MAX), the expiry second's low and high halves, then from MEMO_TTL_FIRST the offsets.
 */
export const MEMO_TTL_WORDS = L.ttlWords;
/** Index of the first offset after the count and the expiry. */
export const MEMO_TTL_FIRST = L.ttlFirst;
export const MEMO_TTLS_MAX = L.ttlWords - L.ttlFirst;
export const MEMO_TTLS_OVERFLOW = 0xffff;
const TTL_COUNT = L.ttlCount;
const TTL_EXPIRY_LOW = L.ttlExpiryLow;
const TTL_EXPIRY_HIGH = L.ttlExpiryHigh;

/** Writes the count and expiry of a slot's TTL report (the offsets are written as they are found). */
export function closeMemoTtls(ttls: Uint16Array, base: number, count: number, expiry: number): void {
  ttls[base + TTL_COUNT] = count > MEMO_TTLS_MAX ? MEMO_TTLS_OVERFLOW : count;
  ttls[base + TTL_EXPIRY_LOW] = expiry & 0xffff;
  ttls[base + TTL_EXPIRY_HIGH] = expiry >>> 16;
}

/** The memo word's source index for an answer source. */
export function sourceIndex(source: AnswerSource): number {
  return ANSWER_SOURCES.indexOf(source);
}

const HOSTS_MEMO = memoWord(true, sourceIndex('hosts'), 0);
const MESH_MEMO = memoWord(true, sourceIndex('mesh'), 0);
const CACHE_MEMO = memoWord(false, sourceIndex('cache'), 0);

/**
 * The batched listener's MemoSink, one per socket: for the query being handled, the output slot its
 * TTL report goes to and what the memo may keep of its answer (`word`: a memoWord without the input
 * slot, which the listener adds; 0 for nothing). Hosts and mesh answers are kept until the epoch
 * changes, cache hits until their entry expires (the addon counts their TTLs down), and nothing
 * else: the resolver reports only answers written whole.
 */
export class SlotMemo implements MemoSink {
  word = 0;
  ttlBase = 0;

  /** `ttls`: MEMO_TTL_WORDS u16 per output slot, shared with the addon. */
  constructor(readonly ttls: Uint16Array) {}

  /** Before each query: nothing kept yet; a cache hit reports its TTLs for output slot `outputSlot`. */
  begin(outputSlot: number): void {
    this.word = 0;
    this.ttlBase = outputSlot * MEMO_TTL_WORDS;
  }

  keepLocal(source: LocalSource): void {
    this.word = source === 'hosts' ? HOSTS_MEMO : MESH_MEMO;
  }

  keepCacheHit(): void {
    // More TTLs than the report holds: the addon could not count them all down.
    if (this.ttls[this.ttlBase + TTL_COUNT] !== MEMO_TTLS_OVERFLOW) this.word = CACHE_MEMO;
  }
}

/**
 * Adds what the addon answered since the last fold (`seen` holds the counts already added) to
 * `stats`; returns the number of those answers that were cache hits.
 */
export function foldFastStats(fast: Float64Array, seen: Float64Array, stats: DnsStats): number {
  const delta = (i: number): number => {
    const d = fast[i]! - seen[i]!;
    seen[i] = fast[i]!;
    return d;
  };
  stats.queries += delta(L.statsAnswered);
  let cacheHits = 0;
  ANSWER_SOURCES.forEach((source, i) => {
    const d = delta(L.statsBySource + i);
    stats.bySource[source] += d;
    if (source === 'cache') cacheHits = d;
  });
  for (let r = 0; r < stats.byRcode.length; r++) stats.byRcode[r]! += delta(L.statsByRcode + r);
  for (let b = 0; b < stats.latencyCounts.length; b++) stats.latencyCounts[b]! += delta(L.statsBuckets + b);
  stats.latencyMicros += delta(L.statsLatencyMicros);
  return cacheHits;
}
