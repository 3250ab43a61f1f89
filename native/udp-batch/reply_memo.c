/* reply_memo.h says what this is; here: four ways per set, FNV-1a over the key bytes; a new entry
 * replaces the way used least recently. With fewer ways, the few sets that drew more keys than ways
 * thrashed under a cyclic load (direct mapping lost a third of a 2000-name working set, two ways 8%). */
#include "reply_memo.h"

#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define SETS (MEMO_SLOTS / WAYS)

struct reply_memo {
  memo_entry slots[MEMO_SLOTS];
  uint32_t used[MEMO_SLOTS]; /* when each slot was last hit or filled, in `tick`s */
  uint32_t tick;
};

static uint32_t set_of(const uint8_t *key, size_t len) {
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < len; i++) h = (h ^ key[i]) * 0x01000193u;
  return (h ^ (h >> 15)) & (SETS - 1);
}

static int same_key(const memo_entry *e, const uint8_t *key, size_t key_len) {
  return e->epoch != 0 && e->key_len == key_len && memcmp(e->key, key, key_len) == 0;
}

/* Where `key` goes in the set starting at `first`: its own slot, else an empty one, else the least
 * recently used (ticks wrap: compared by difference). */
static uint32_t slot_for(const reply_memo *memo, uint32_t first, const uint8_t *key, size_t key_len) {
  for (uint32_t i = first; i < first + WAYS; i++) {
    if (same_key(&memo->slots[i], key, key_len)) return i;
  }
  uint32_t oldest = first;
  for (uint32_t i = first; i < first + WAYS; i++) {
    if (memo->slots[i].epoch == 0) return i;
    if ((int32_t)(memo->used[i] - memo->used[oldest]) < 0) oldest = i;
  }
  return oldest;
}

reply_memo *memo_new(void) { return calloc(1, sizeof(reply_memo)); }

void memo_free(reply_memo *memo) { free(memo); }

const memo_entry *memo_find(reply_memo *memo, const uint8_t *key, size_t key_len, uint32_t epoch, uint32_t second) {
  if (key_len > MEMO_KEY_MAX || epoch == 0) return NULL;
  uint32_t first = set_of(key, key_len) * WAYS;
  for (uint32_t i = first; i < first + WAYS; i++) {
    const memo_entry *e = &memo->slots[i];
    if (!same_key(e, key, key_len)) continue;
    if (e->epoch != epoch || second >= e->expiry || second < e->made) return NULL;
    memo->used[i] = ++memo->tick;
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
  uint32_t slot = slot_for(memo, set_of(key, key_len) * WAYS, key, key_len);
  memo->used[slot] = ++memo->tick;
  memo_entry *e = &memo->slots[slot];
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
