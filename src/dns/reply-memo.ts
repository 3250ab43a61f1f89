/**
 * What JS and the native reply memo (native/udp-batch/reply_memo.h) share: the meta flags, the memo
 * word JS writes per reply, and the layout of the counters the addon keeps for the answers it gives
 * itself. The memo matches exact query bytes; JS alone decides what may be kept, and for how long.
 */
import { ANSWER_SOURCES, type AnswerSource, type DnsStats } from './stats.js';

/** Input flag (word [1]; 1 is "longer than a slot"): the addon already answered it from the reply memo; JS passes it over. */
export const META_ANSWERED = 2;

/**
 * Output meta word [3], what the addon may keep of a reply (native/udp-batch/reply_memo.h): `keep`;
 * `fixed` (hosts and mesh answers: valid until the epoch changes) or not (cache hits: valid until the
 * expiry second JS wrote beside it, TTLs counted down at the offsets written there); the answer source
 * index (stats); the input slot of its query.
 */
export function memoWord(fixed: boolean, source: number, inputSlot: number): number {
  return 1 | (fixed ? 2 : 0) | (source << 8) | (inputSlot << 16);
}

/** Layout of the fastStats buffer enableMemo() returns (Float64): what the memo answered. */
export const FastStats = {
  answered: 0,
  /** 8 slots, by answer source index. */
  bySource: 1,
  /** 16 slots, by rcode. */
  byRcode: 9,
  /** The latency bounds given to enableMemo(), then one overflow bucket. */
  buckets: 25,
  latencyMicros: 42,
  length: 43,
} as const;

/**
 * Where a cache hit reports, for the addon's countdown, the second its entry expires and the offset of
 * every TTL it wrote: MEMO_TTL_WORDS u16 per output slot, [0] the count (MEMO_TTLS_OVERFLOW when more
 * than MEMO_TTLS_MAX), [1] [2] the expiry second's low and high halves, [3...] the offsets.
 */
export const MEMO_TTL_WORDS = 32;
/** Index of the first offset after the count and the expiry. */
export const MEMO_TTL_FIRST = 3;
export const MEMO_TTLS_MAX = MEMO_TTL_WORDS - MEMO_TTL_FIRST;
export const MEMO_TTLS_OVERFLOW = 0xffff;

/** Writes the count and expiry of a slot's TTL report (the offsets are written as they are found). */
export function closeMemoTtls(ttls: Uint16Array, base: number, count: number, expiry: number): void {
  ttls[base] = count > MEMO_TTLS_MAX ? MEMO_TTLS_OVERFLOW : count;
  ttls[base + 1] = expiry & 0xffff;
  ttls[base + 2] = expiry >>> 16;
}

/** The memo word's source index for an answer source. */
export function sourceIndex(source: AnswerSource): number {
  return ANSWER_SOURCES.indexOf(source);
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
  stats.queries += delta(FastStats.answered);
  let cacheHits = 0;
  ANSWER_SOURCES.forEach((source, i) => {
    const d = delta(FastStats.bySource + i);
    stats.bySource[source] += d;
    if (source === 'cache') cacheHits = d;
  });
  for (let r = 0; r < stats.byRcode.length; r++) stats.byRcode[r]! += delta(FastStats.byRcode + r);
  for (let b = 0; b < stats.latencyCounts.length; b++) stats.latencyCounts[b]! += delta(FastStats.buckets + b);
  stats.latencyMicros += delta(FastStats.latencyMicros);
  return cacheHits;
}
