/*
 * The memory layout udp_batch shares with TypeScript, written once: each line below defines the C
 * constant and the number the addon exports under `layout` (a frozen object). The loader
 * (src/dns/udp-batch.ts) compares that object with its own table (src/dns/udp-batch-layout.ts) and
 * refuses the addon, falling back to node:dgram, when they differ in any key or value.
 *
 * Arenas (ArrayBuffers created once per socket, shared with JS):
 *   input / output          SLOTS x SLOT_SIZE bytes of datagram payload
 *   inputMeta / outputMeta  SLOTS x META_SIZE bytes per slot, as u32 words:
 *     [META_LENGTH] payload length  [META_FLAGS] input flags (FLAG_*)  [META_ADDR_LENGTH] sockaddr length
 *     [META_MEMO] output only: the memo word (MEMO_*)  [META_ADDR...] the peer's sockaddr (in or in6)
 *   sendTo()'s address is meta bytes META_ADDR_LENGTH * 4 .. META_SIZE of a slot.
 * Memo word: MEMO_KEEP, MEMO_FIXED (a hosts or mesh answer; else a cache hit with a TTL report), the
 *   answer source index << MEMO_SOURCE_SHIFT (8 bits), the input slot of its query << MEMO_SLOT_SHIFT.
 * TTL report (enableMemo's `ttls`): TTL_WORDS u16 per output slot: [TTL_COUNT] how many offsets
 *   (more than MEMO_TTLS: not kept), [TTL_EXPIRY_LOW] [TTL_EXPIRY_HIGH] the expiry second, from
 *   [TTL_FIRST] the offsets of the TTL fields from the reply's first byte.
 * fastStats (enableMemo's `stats`, Float64): answered, by source (FS_SOURCES), by rcode (FS_RCODES),
 *   latency buckets (the bounds given, then one overflow), latency sum in microseconds.
 */
#ifndef MNA_UDP_BATCH_LAYOUT_H
#define MNA_UDP_BATCH_LAYOUT_H

/* X(C name, exported name, value) */
#define UDP_BATCH_LAYOUT(X)                    \
  X(SLOTS, slots, 64)                          \
  X(SLOT_SIZE, slotSize, 4096)                 \
  X(META_SIZE, metaSize, 48)                   \
  X(META_LENGTH, metaLength, 0)                \
  X(META_FLAGS, metaFlags, 1)                  \
  X(META_ADDR_LENGTH, metaAddrLength, 2)       \
  X(META_MEMO, metaMemo, 3)                    \
  X(META_ADDR, metaAddr, 4)                    \
  X(FLAG_TRUNCATED, flagTruncated, 1)          \
  X(FLAG_ANSWERED, flagAnswered, 2)            \
  X(MEMO_KEEP, memoKeep, 1)                    \
  X(MEMO_FIXED, memoFixed, 2)                  \
  X(MEMO_SOURCE_SHIFT, memoSourceShift, 8)     \
  X(MEMO_SLOT_SHIFT, memoSlotShift, 16)        \
  X(TTL_WORDS, ttlWords, 32)                   \
  X(TTL_COUNT, ttlCount, 0)                    \
  X(TTL_EXPIRY_LOW, ttlExpiryLow, 1)           \
  X(TTL_EXPIRY_HIGH, ttlExpiryHigh, 2)         \
  X(TTL_FIRST, ttlFirst, 3)                    \
  X(FS_ANSWERED, statsAnswered, 0)             \
  X(FS_SOURCE, statsBySource, 1)               \
  X(FS_SOURCES, statsSources, 8)               \
  X(FS_RCODE, statsByRcode, 9)                 \
  X(FS_RCODES, statsRcodes, 16)                \
  X(FS_BUCKETS, statsBuckets, 25)              \
  X(FS_MAX_BOUNDS, statsMaxBounds, 16)         \
  X(FS_LATENCY_SUM, statsLatencyMicros, 42)    \
  X(FS_LENGTH, statsLength, 43)

#define UDP_BATCH_LAYOUT_ENUM(c_name, js_name, value) c_name = value,
enum { UDP_BATCH_LAYOUT(UDP_BATCH_LAYOUT_ENUM) };
#undef UDP_BATCH_LAYOUT_ENUM

/* What the C code assumes of these numbers (the masks and field widths in udp_batch.c). */
_Static_assert(SLOTS <= 256, "the memo word carries the input slot in 8 bits");
_Static_assert(META_SIZE % 4 == 0 && META_ADDR * 4 + 28 <= META_SIZE, "a sockaddr_in6 fits after META_ADDR");
_Static_assert(META_ADDR - META_ADDR_LENGTH == 2, "sendTo's address: sockaddr length, one word, sockaddr");
_Static_assert(MEMO_SLOT_SHIFT - MEMO_SOURCE_SHIFT == 8, "the source index is 8 bits");
_Static_assert(FS_SOURCES == 8 && FS_RCODES == 16, "sources and rcodes are masked with 7 and 15");
_Static_assert(FS_RCODE == FS_SOURCE + FS_SOURCES && FS_BUCKETS == FS_RCODE + FS_RCODES, "fastStats sections are contiguous");
_Static_assert(FS_LATENCY_SUM == FS_BUCKETS + FS_MAX_BOUNDS + 1 && FS_LENGTH == FS_LATENCY_SUM + 1, "buckets: the bounds, then overflow");

#endif
