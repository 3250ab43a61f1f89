/* reply_memo.h says what this is; here: two ways per set, FNV-1a over the key bytes; a new entry
 * replaces the way not used last (direct mapping lost a third of a 2000-name working set). */
#include "reply_memo.h"

#include <stdlib.h>
#include <string.h>

#define SETS (MEMO_SLOTS / 2)

struct reply_memo {
  memo_entry slots[MEMO_SLOTS];
  uint8_t last_used[SETS]; /* per set: the way hit or filled last */
};

static uint32_t set_of(const uint8_t *key, size_t len) {
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < len; i++) h = (h ^ key[i]) * 0x01000193u;
  return (h ^ (h >> 15)) & (SETS - 1);
}

static int same_key(const memo_entry *e, const uint8_t *key, size_t key_len) {
  return e->epoch != 0 && e->key_len == key_len && memcmp(e->key, key, key_len) == 0;
}

reply_memo *memo_new(void) { return calloc(1, sizeof(reply_memo)); }

void memo_free(reply_memo *memo) { free(memo); }

const memo_entry *memo_find(reply_memo *memo, const uint8_t *key, size_t key_len, uint32_t epoch, uint32_t second) {
  if (key_len > MEMO_KEY_MAX || epoch == 0) return NULL;
  uint32_t set = set_of(key, key_len);
  for (int way = 0; way < 2; way++) {
    const memo_entry *e = &memo->slots[set * 2 + way];
    if (!same_key(e, key, key_len)) continue;
    if (e->epoch != epoch || second >= e->expiry || second < e->made) return NULL;
    memo->last_used[set] = (uint8_t)way;
    return e;
  }
  return NULL;
}

size_t memo_reply(const memo_entry *e, uint32_t second, uint8_t *out) {
  memcpy(out, e->reply, e->reply_len);
  uint32_t elapsed = second - e->made;
  if (elapsed == 0) return e->reply_len;
  for (int i = 0; i < e->ttl_count; i++) {
    uint8_t *p = out + e->ttl_at[i];
    uint32_t ttl = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    ttl = ttl > elapsed ? ttl - elapsed : 0;
    p[0] = (uint8_t)(ttl >> 24);
    p[1] = (uint8_t)(ttl >> 16);
    p[2] = (uint8_t)(ttl >> 8);
    p[3] = (uint8_t)ttl;
  }
  return e->reply_len;
}

int memo_put(reply_memo *memo, const uint8_t *key, size_t key_len, const uint8_t *reply, size_t reply_len, uint32_t epoch, uint32_t made,
             uint32_t expiry, const uint16_t *ttl_at, size_t ttl_count, uint8_t source, uint8_t rcode) {
  if (key_len > MEMO_KEY_MAX || reply_len > MEMO_REPLY_MAX || epoch == 0 || ttl_count > MEMO_TTLS || made >= expiry) return 0;
  for (size_t i = 0; i < ttl_count; i++) {
    if ((size_t)ttl_at[i] + 4 > reply_len) return 0;
  }
  uint32_t set = set_of(key, key_len);
  /* The same key again takes its own way; a new one the way not used last. */
  int way = same_key(&memo->slots[set * 2], key, key_len) ? 0 : same_key(&memo->slots[set * 2 + 1], key, key_len) ? 1 : 1 - memo->last_used[set];
  memo->last_used[set] = (uint8_t)way;
  memo_entry *e = &memo->slots[set * 2 + way];
  e->epoch = epoch;
  e->made = made;
  e->expiry = expiry;
  e->ttl_count = (uint8_t)ttl_count;
  memcpy(e->ttl_at, ttl_at, ttl_count * sizeof *ttl_at);
  e->key_len = (uint16_t)key_len;
  e->reply_len = (uint16_t)reply_len;
  e->source = source;
  e->rcode = rcode;
  memcpy(e->key, key, key_len);
  memcpy(e->reply, reply, reply_len);
  return 1;
}
