/*
 * reply_memo: replies the resolver (TypeScript) has already given, kept by the exact bytes of the
 * query after its ID, so a repeat of the same query is answered from the receive path without
 * entering JavaScript. Nothing here parses DNS: a hit is "these query bytes got these reply bytes",
 * and the entry says how long that stays true. JS decides what may be kept, and for how long:
 *   - an answer from dns.hosts or the mesh table is fixed until the tables change: it is valid
 *     while the epoch (a counter JS bumps on every reload or cache flush) is the one it was stored in;
 *   - a cache hit is valid until its cache entry expires (a CLOCK_MONOTONIC second JS gives), and its
 *     TTLs, at offsets JS gives, are counted down by the whole seconds since it was made: the bytes the
 *     TypeScript cache would write in that second (TTL' = max(TTL - elapsed, 0), see cache.ts).
 * The same bytes include the letter case of the name, the flags and any EDNS option, so the reply
 * (its echoed question, its OPT, its truncation) is exactly what the resolver wrote for them.
 */
#ifndef MNA_REPLY_MEMO_H
#define MNA_REPLY_MEMO_H

#include <stddef.h>
#include <stdint.h>

#define MEMO_SLOTS 8192 /* a power of two; 3.6 MB per socket */
#define MEMO_KEY_MAX 126 /* a query of a name up to ~100 characters */
#define MEMO_REPLY_MAX 270 /* a reply of up to ~10 addresses */
#define MEMO_TTLS 12 /* TTL fields counted down per reply */
/* The expiry of an entry that does not expire with the clock (hosts and mesh answers). */
#define MEMO_NEVER 0xffffffffu

typedef struct {
  uint32_t epoch;  /* 0: empty (JS epochs start at 1) */
  uint32_t made;   /* the second its TTLs are as of */
  uint32_t expiry; /* valid while the clock second is below this */
  uint16_t key_len;
  uint16_t reply_len;
  uint8_t source; /* the answer source index JS gave (stats) */
  uint8_t rcode;
  uint8_t ttl_count;
  uint16_t ttl_at[MEMO_TTLS]; /* offsets into `reply` */
  uint8_t key[MEMO_KEY_MAX];
  uint8_t reply[MEMO_REPLY_MAX];
} memo_entry;

typedef struct reply_memo reply_memo;

reply_memo *memo_new(void);
void memo_free(reply_memo *memo);
/* The entry for `key` (query bytes after the ID) valid in `epoch` at `second`, or NULL. */
const memo_entry *memo_find(reply_memo *memo, const uint8_t *key, size_t key_len, uint32_t epoch, uint32_t second);
/* Writes the entry's reply (after the ID) to `out` as of `second`: its TTLs counted down. Returns its length. */
size_t memo_reply(const memo_entry *e, uint32_t second, uint8_t *out);
/* Keeps `reply` (after its ID) for `key`, made at second `made` and valid below `expiry`, with TTL fields
 * at `ttl_at` (offsets into `reply`); replaces whatever shared its slot. 0 when it does not fit. */
int memo_put(reply_memo *memo, const uint8_t *key, size_t key_len, const uint8_t *reply, size_t reply_len, uint32_t epoch, uint32_t made,
             uint32_t expiry, const uint16_t *ttl_at, size_t ttl_count, uint8_t source, uint8_t rcode);

#endif
