/**
 * The memory the udp-batch addon shares with TypeScript, as TypeScript reads and writes it: the
 * arenas' per-slot meta words, the memo word, the memo's TTL report and the counters of the answers
 * the addon gives itself. The addon exports its own numbers as `layout`
 * (native/udp-batch/udp_batch_layout.h, where each is defined once for C); the loader takes the addon
 * only when both agree in every key (layoutMismatch), so neither side can drift alone. Every other
 * TypeScript constant of this layout (reply-memo.ts, udp-batch-server.ts) is derived from this table.
 */
import { ANSWER_SOURCES, LATENCY_BUCKETS_MICROS, DnsStats } from './stats.js';

export const UDP_BATCH_LAYOUT = {
  /** Arenas: `slots` datagrams of `slotSize` bytes; per slot `metaSize` bytes of u32 words. */
  slots: 64,
  slotSize: 4096,
  metaSize: 48,
  /** Meta word indices: payload length, input flags, sockaddr length, the output's memo word, the sockaddr. */
  metaLength: 0,
  metaFlags: 1,
  metaAddrLength: 2,
  metaMemo: 3,
  metaAddr: 4,
  /** Input flags: longer than a slot (dropped); already answered from the reply memo (JS passes it over). */
  flagTruncated: 1,
  flagAnswered: 2,
  /** Memo word: keep; fixed (hosts, mesh) or a cache hit with a TTL report; source index; input slot. */
  memoKeep: 1,
  memoFixed: 2,
  memoSourceShift: 8,
  memoSlotShift: 16,
  /** TTL report, u16 per output slot: the count, the expiry second (low, high), then the offsets. */
  ttlWords: 32,
  ttlCount: 0,
  ttlExpiryLow: 1,
  ttlExpiryHigh: 2,
  ttlFirst: 3,
  /** fastStats (Float64): answered, by source, by rcode, latency buckets (bounds + overflow), latency sum (µs). */
  statsAnswered: 0,
  statsBySource: 1,
  statsSources: 8,
  statsByRcode: 9,
  statsRcodes: 16,
  statsBuckets: 25,
  statsMaxBounds: 16,
  statsLatencyMicros: 42,
  statsLength: 43,
} as const;

export type UdpBatchLayout = { readonly [K in keyof typeof UDP_BATCH_LAYOUT]: number };

/** What the statistics the addon's counters are folded into need of the layout (checked with it). */
function statsFit(): string[] {
  const L = UDP_BATCH_LAYOUT;
  const problems: string[] = [];
  if (ANSWER_SOURCES.length > L.statsSources) problems.push(`${ANSWER_SOURCES.length} answer sources, ${L.statsSources} counters`);
  if (new DnsStats().byRcode.length !== L.statsRcodes) problems.push(`rcode counters differ from ${L.statsRcodes}`);
  if (LATENCY_BUCKETS_MICROS.length > L.statsMaxBounds) problems.push(`${LATENCY_BUCKETS_MICROS.length} latency bounds, at most ${L.statsMaxBounds}`);
  return problems;
}

/**
 * Why the addon's exported `layout` cannot be used with this code (every key that is missing, extra or
 * different, named with both values), or undefined when it matches.
 */
export function layoutMismatch(native: unknown): string | undefined {
  if (typeof native !== 'object' || native === null) return 'it exports no layout (an addon older than this code)';
  const theirs = native as Record<string, unknown>;
  const ours: Record<string, number> = UDP_BATCH_LAYOUT;
  const problems: string[] = [];
  for (const key of Object.keys(ours)) {
    if (!(key in theirs)) problems.push(`${key} missing (expected ${ours[key]})`);
    else if (theirs[key] !== ours[key]) problems.push(`${key} is ${String(theirs[key])}, expected ${ours[key]}`);
  }
  for (const key of Object.keys(theirs)) if (!(key in ours)) problems.push(`${key} unknown to src/dns/udp-batch-layout.ts`);
  problems.push(...statsFit());
  return problems.length === 0 ? undefined : `its memory layout differs from src/dns/udp-batch-layout.ts: ${problems.join('; ')}`;
}
