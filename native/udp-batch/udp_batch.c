/*
 * udp_batch: a UDP socket read with recvmmsg and written with sendmmsg, for the DNS listener.
 *
 * Node 20's dgram costs one recvmsg, one JS callback and one sendmsg per datagram; that, not the
 * resolver, caps a Node DNS server at about 0.65x dnsmasq. Here one readiness event drains up to
 * SLOTS datagrams per syscall into a receive arena and calls JS once per batch; JS writes the
 * replies into a send arena and flushes them with one sendmmsg. This file only moves bytes: all
 * DNS parsing stays in TypeScript; the memo matches and copies bytes, and patches TTLs at offsets
 * JS gives. The memory shared with JS is laid out in udp_batch_layout.h (exported as `layout`).
 *
 * The reply memo (enableMemo, reply_memo.h): JS marks each reply it may keep in the output memo
 * word; send() files them, and the next batches answer repeats of those exact query bytes before
 * calling JS, counting them in the fastStats buffer for JS to fold in.
 *
 * Every export checks its arguments and throws (TypeError, RangeError, or an Error with a code)
 * rather than trusting JS: handles carry a type tag, so no other object is ever taken for one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "reply_memo.h"
#include "udp_batch_layout.h"

#define META_WORDS (META_SIZE / 4)
/* Bytes a peer's sockaddr may take in a meta slot. */
#define ADDR_MAX (META_SIZE - META_ADDR * 4)
/* Batches per readiness event: enough to drain a burst, few enough not to starve timers and TCP. */
#define MAX_BATCHES 8
/* Socket buffer sizes open() accepts (the kernel caps them at net.core.{r,w}mem_max anyway). */
#define BUFFER_MAX (1 << 30)

_Static_assert(TTL_FIRST + MEMO_TTLS <= TTL_WORDS, "a memo entry's TTL offsets fit a slot's TTL report");
_Static_assert(MEMO_REPLY_MAX + 2 <= SLOT_SIZE, "a memo reply fits a slot");

enum { AB_INPUT, AB_INPUT_META, AB_OUTPUT, AB_OUTPUT_META, AB_COUNT };

/* Marks objects made by open(): napi_unwrap alone would take any object another addon wrapped. */
static const napi_type_tag HANDLE_TAG = {0x6d6e612d75647062ull, 0x61746368a5c3e1f7ull};

typedef struct {
  napi_env env;
  int fd;
  int open;        /* fd open and polled */
  int poll_live;   /* uv handle initialized and not yet through its close callback */
  int env_gone;    /* the environment is being torn down: never call JS or touch references */
  int finalized;   /* the wrapper's finalizer ran while the poll handle was still closing */
  uv_poll_t poll;
  napi_ref self;   /* keeps the JS handle (and so this struct) alive while the socket is open */
  napi_ref callback;
  /* The arenas C reads and writes: referenced until the poll handle has closed, whatever JS keeps. */
  napi_ref buffers[AB_COUNT];
  uint8_t *arena[AB_COUNT];
  napi_async_context async;
  struct mmsghdr rx[SLOTS];
  struct iovec rx_iov[SLOTS];
  struct mmsghdr tx[SLOTS];
  struct iovec tx_iov[SLOTS];
  double received, batches, truncated, send_dropped, recv_errors;
  /* The reply memo, once enableMemo() has been called. */
  reply_memo *memo;
  napi_ref epoch_ref, stats_ref, ttls_ref;
  const uint32_t *epoch; /* JS's counter: a memo entry is valid only in the epoch it was stored in */
  double *fast_stats;
  uint8_t *memo_ttls;
  double bucket_us[FS_MAX_BOUNDS];
  int buckets;
  uint32_t batch_second; /* the clock second when the current batch arrived */
  int in_batch;          /* inside the batch callback: the input arena holds the batch's queries */
  struct mmsghdr fast_tx[SLOTS];
  struct iovec fast_iov[SLOTS];
  uint8_t fast_out[SLOTS][MEMO_REPLY_MAX + 2];
} udp_ctx;

#define CHECK(env, call)                                         \
  do {                                                           \
    if ((call) != napi_ok) {                                     \
      napi_throw_error((env), "EUDPBATCH", "udp_batch: " #call); \
      return NULL;                                               \
    }                                                            \
  } while (0)

/* CLOCK_MONOTONIC in microseconds, and its whole seconds as clockSeconds() reports them. */
static uint64_t monotonic_now(uint32_t *second) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  if (second != NULL) *second = (uint32_t)(ts.tv_sec & 0x7fffffff);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* sendmmsg until every message is out or the socket refuses: UDP semantics, a full send buffer drops
 * the rest (clients retry); a datagram that fails alone (unreachable peer) is skipped. */
static int send_all(udp_ctx *ctx, struct mmsghdr *msgs, int count) {
  int done = 0, sent = 0;
  while (done < count) {
    int r = sendmmsg(ctx->fd, msgs + done, count - done, MSG_DONTWAIT);
    if (r > 0) {
      done += r;
      sent += r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      ctx->send_dropped += count - done;
      break;
    } else {
      ctx->send_dropped += 1;
      done += 1;
    }
  }
  return sent;
}

/* Answers the datagrams of this batch whose exact bytes the memo knows, before JS sees the batch,
 * and flags them FLAG_ANSWERED for JS to pass over. Returns how many are left for JS. */
static int answer_from_memo(udp_ctx *ctx, int n) {
  uint32_t second;
  uint64_t t0 = monotonic_now(&second);
  ctx->batch_second = second;
  uint32_t epoch = *ctx->epoch;
  uint32_t *meta = (uint32_t *)ctx->arena[AB_INPUT_META];
  int hits = 0;
  for (int i = 0; i < n; i++) {
    uint32_t *m = meta + i * META_WORDS;
    if (m[META_FLAGS] != 0 || m[META_LENGTH] < 12) continue;
    const uint8_t *query = ctx->arena[AB_INPUT] + i * SLOT_SIZE;
    const memo_entry *e = memo_find(ctx->memo, query + 2, m[META_LENGTH] - 2, epoch, second);
    if (e == NULL) continue;
    uint8_t *out = ctx->fast_out[hits];
    out[0] = query[0];
    out[1] = query[1];
    ctx->fast_iov[hits].iov_len = memo_reply(e, second, out + 2) + 2;
    ctx->fast_tx[hits].msg_hdr.msg_name = ctx->rx[i].msg_hdr.msg_name;
    ctx->fast_tx[hits].msg_hdr.msg_namelen = m[META_ADDR_LENGTH];
    m[META_FLAGS] = FLAG_ANSWERED;
    ctx->fast_stats[FS_SOURCE + (e->source & (FS_SOURCES - 1))] += 1;
    ctx->fast_stats[FS_RCODE + (e->rcode & (FS_RCODES - 1))] += 1;
    hits++;
  }
  if (hits == 0) return n;
  send_all(ctx, ctx->fast_tx, hits);
  double us = (double)(monotonic_now(NULL) - t0);
  int b = 0;
  while (b < ctx->buckets && us > ctx->bucket_us[b]) b++;
  ctx->fast_stats[FS_BUCKETS + b] += hits;
  ctx->fast_stats[FS_LATENCY_SUM] += us * hits;
  ctx->fast_stats[FS_ANSWERED] += hits;
  return n - hits;
}

/* Files the replies JS marked in this batch's output meta. Everything read here is in buffers JS
 * can write, so every length, slot and offset is bounded before use. */
static void remember(udp_ctx *ctx, int count) {
  uint32_t second;
  monotonic_now(&second);
  /* The cache counted TTLs in the second JS read during this batch: known only if no second began since it arrived. */
  if (second != ctx->batch_second) return;
  uint32_t epoch = *ctx->epoch;
  const uint16_t *ttls = (const uint16_t *)ctx->memo_ttls;
  const uint32_t *in_meta = (const uint32_t *)ctx->arena[AB_INPUT_META];
  const uint32_t *out_meta = (const uint32_t *)ctx->arena[AB_OUTPUT_META];
  for (int i = 0; i < count; i++) {
    const uint32_t *om = out_meta + i * META_WORDS;
    uint32_t word = om[META_MEMO];
    if ((word & MEMO_KEEP) == 0) continue;
    uint32_t slot = (word >> MEMO_SLOT_SHIFT) & 0xff;
    if (slot >= SLOTS) continue;
    const uint32_t *im = in_meta + slot * META_WORDS;
    if (im[META_FLAGS] != 0 || im[META_LENGTH] < 12 || im[META_LENGTH] > SLOT_SIZE || om[META_LENGTH] < 12 || om[META_LENGTH] > SLOT_SIZE) continue;
    const uint8_t *query = ctx->arena[AB_INPUT] + slot * SLOT_SIZE;
    const uint8_t *reply = ctx->arena[AB_OUTPUT] + i * SLOT_SIZE;
    uint32_t expiry = MEMO_NEVER;
    uint16_t ttl_at[MEMO_TTLS];
    size_t ttl_count = 0;
    if ((word & MEMO_FIXED) == 0) {
      /* A cache hit: its expiry and TTL offsets (from the reply's start) as JS wrote them. */
      const uint16_t *t = ttls + i * TTL_WORDS;
      if (t[TTL_COUNT] > MEMO_TTLS) continue;
      expiry = (uint32_t)t[TTL_EXPIRY_LOW] | ((uint32_t)t[TTL_EXPIRY_HIGH] << 16);
      ttl_count = t[TTL_COUNT];
      int bad = 0;
      for (size_t k = 0; k < ttl_count; k++) {
        if (t[TTL_FIRST + k] < 2) bad = 1;
        ttl_at[k] = (uint16_t)(t[TTL_FIRST + k] - 2);
      }
      if (bad) continue;
    }
    memo_put(ctx->memo, query + 2, im[META_LENGTH] - 2, reply + 2, om[META_LENGTH] - 2, epoch, second, expiry, ttl_at, ttl_count,
             (uint8_t)((word >> MEMO_SOURCE_SHIFT) & 0xff), reply[3] & 0xf);
  }
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *where) {
  const char *name = uv_err_name(-err);
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s %s", syscall, name, where);
  napi_value code, message, error, sys, no;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  napi_create_int32(env, -err, &no);
  napi_set_named_property(env, error, "errno", no);
  napi_throw(env, error);
  return NULL;
}

/* Throws `kind` (napi_throw_type_error or napi_throw_range_error) with a printf-made message. */
static napi_value throw_msg(napi_env env, napi_status (*kind)(napi_env, const char *, const char *), const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static napi_value throw_msg(napi_env env, napi_status (*kind)(napi_env, const char *, const char *), const char *code, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  kind(env, code, msg);
  return NULL;
}

/* The socket behind argument 0, or NULL with a TypeError pending: only objects open() tagged are taken. */
static udp_ctx *unwrap(napi_env env, napi_value handle, const char *fn) {
  napi_valuetype type;
  bool tagged = false;
  udp_ctx *ctx = NULL;
  /* The type first: the tag check would throw its own error for null or undefined. */
  if (napi_typeof(env, handle, &type) != napi_ok || type != napi_object || napi_check_object_type_tag(env, handle, &HANDLE_TAG, &tagged) != napi_ok ||
      !tagged || napi_unwrap(env, handle, (void **)&ctx) != napi_ok || ctx == NULL) {
    throw_msg(env, napi_throw_type_error, "ERR_INVALID_ARG_TYPE", "udp_batch.%s: the first argument must be a socket handle from udp_batch.open()", fn);
    return NULL;
  }
  return ctx;
}

/* The common head of every call taking (handle, ...): fills argv (`want` of them, else a TypeError
 * naming `usage`), returns the socket or NULL with a JS exception pending. */
static udp_ctx *handle_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn, const char *usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "EUDPBATCH", "udp_batch: napi_get_cb_info");
    return NULL;
  }
  if (argc < want) {
    throw_msg(env, napi_throw_type_error, "ERR_MISSING_ARGS", "udp_batch.%s: expected %s", fn, usage);
    return NULL;
  }
  return unwrap(env, argv[0], fn);
}

/* The same, for calls that need the socket open (send, sendTo, enableMemo): a closed one is an Error
 * with dgram's code for it. */
static udp_ctx *open_handle_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn, const char *usage) {
  udp_ctx *ctx = handle_args(env, info, want, argv, fn, usage);
  if (ctx != NULL && !ctx->open) {
    throw_msg(env, napi_throw_error, "ERR_SOCKET_DGRAM_NOT_RUNNING", "udp_batch.%s: the socket is closed", fn);
    return NULL;
  }
  return ctx;
}

/* An integer argument within [min, max], or a TypeError / RangeError naming it. */
static int int_arg(napi_env env, napi_value value, double min, double max, const char *fn, const char *name, double *out) {
  /* Anything but a number is napi_number_expected (no coercion). */
  if (napi_get_value_double(env, value, out) != napi_ok) {
    throw_msg(env, napi_throw_type_error, "ERR_INVALID_ARG_TYPE", "udp_batch.%s: %s must be a number", fn, name);
    return 0;
  }
  if (!(*out >= min && *out <= max) || *out != (double)(int64_t)*out) {
    throw_msg(env, napi_throw_range_error, "ERR_OUT_OF_RANGE", "udp_batch.%s: %s must be an integer from %.0f to %.0f (got %g)", fn, name, min, max, *out);
    return 0;
  }
  return 1;
}

/* A typed array argument of `want` type, its data and element count; else a TypeError naming it. */
static int typed_arg(napi_env env, napi_value value, napi_typedarray_type want, const char *fn, const char *name, const char *type_name, void **data,
                     size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed || napi_get_typedarray_info(env, value, &type, length, data, &ab, &offset) != napi_ok ||
      type != want) {
    throw_msg(env, napi_throw_type_error, "ERR_INVALID_ARG_TYPE", "udp_batch.%s: %s must be a %s", fn, name, type_name);
    return 0;
  }
  return 1;
}

static void release_refs(udp_ctx *ctx) {
  if (ctx->env_gone) return;
  for (int i = 0; i < AB_COUNT; i++) {
    if (ctx->buffers[i] != NULL) napi_delete_reference(ctx->env, ctx->buffers[i]);
    ctx->buffers[i] = NULL;
    ctx->arena[i] = NULL;
  }
  if (ctx->callback != NULL) napi_delete_reference(ctx->env, ctx->callback);
  ctx->callback = NULL;
  if (ctx->async != NULL) napi_async_destroy(ctx->env, ctx->async);
  ctx->async = NULL;
  if (ctx->epoch_ref != NULL) napi_delete_reference(ctx->env, ctx->epoch_ref);
  if (ctx->stats_ref != NULL) napi_delete_reference(ctx->env, ctx->stats_ref);
  if (ctx->ttls_ref != NULL) napi_delete_reference(ctx->env, ctx->ttls_ref);
  ctx->epoch_ref = ctx->stats_ref = ctx->ttls_ref = NULL;
  ctx->memo_ttls = NULL;
  ctx->epoch = NULL;
  ctx->fast_stats = NULL;
  memo_free(ctx->memo);
  ctx->memo = NULL;
}

/* The C-owned memory; the N-API references are release_refs()'s (or, at teardown, Node's). */
static void free_ctx(udp_ctx *ctx) {
  memo_free(ctx->memo);
  free(ctx);
}

static void on_poll_closed(uv_handle_t *handle) {
  udp_ctx *ctx = handle->data;
  ctx->poll_live = 0;
  if (ctx->env_gone) {
    /* Node tore the environment down first; whichever of this and finalize() comes last frees. */
    if (ctx->finalized) free_ctx(ctx);
    return;
  }
  /* Not in shut(): close() may run inside the batch callback, which still uses these. */
  release_refs(ctx);
  /* Last: dropping the self reference lets the finalizer free ctx. */
  napi_ref self = ctx->self;
  ctx->self = NULL;
  if (self != NULL) napi_delete_reference(ctx->env, self);
}

static void env_cleanup(void *arg);

/* Stops polling and closes the fd now (the port is free when close() returns); the uv handle
 * and the references go in its close callback. */
static void shut(udp_ctx *ctx) {
  if (!ctx->open) return;
  ctx->open = 0;
  /* The watcher goes before the fd: libuv must not touch an fd number another socket may reuse. */
  uv_close((uv_handle_t *)&ctx->poll, on_poll_closed);
  close(ctx->fd);
  ctx->fd = -1;
  if (!ctx->env_gone) napi_remove_env_cleanup_hook(ctx->env, env_cleanup, ctx);
}

/* The environment is going (process exit, worker end): no JS, no N-API references from here on;
 * Node deletes those itself. */
static void env_cleanup(void *arg) {
  udp_ctx *ctx = arg;
  ctx->env_gone = 1;
  if (!ctx->open) return;
  ctx->open = 0;
  uv_close((uv_handle_t *)&ctx->poll, on_poll_closed);
  close(ctx->fd);
  ctx->fd = -1;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  udp_ctx *ctx = data;
  /* Normally reached only once the self reference is gone, i.e. after the poll handle closed; at
   * teardown Node finalizes every wrapper, possibly before the loop runs the poll's close callback. */
  if (ctx->poll_live) {
    ctx->finalized = 1;
    return;
  }
  free_ctx(ctx);
}

static void call_js(udp_ctx *ctx, int count) {
  napi_env env = ctx->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, arg, result;
  if (napi_get_reference_value(env, ctx->callback, &fn) == napi_ok && fn != NULL && napi_get_global(env, &recv) == napi_ok &&
      napi_create_int32(env, count, &arg) == napi_ok) {
    /* napi_make_callback enters a callback scope: nextTicks and microtasks run when it returns. */
    napi_status status = napi_make_callback(env, ctx->async, recv, fn, 1, &arg, &result);
    if (status == napi_pending_exception) {
      /* A throw in the listener is an uncaught exception like in any event handler, not an abort. */
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  udp_ctx *ctx = handle->data;
  if (status < 0 || !ctx->open || ctx->env_gone) return;
  for (int batch = 0; batch < MAX_BATCHES && ctx->open; batch++) {
    for (int i = 0; i < SLOTS; i++) ctx->rx[i].msg_hdr.msg_namelen = ADDR_MAX;
    int n = recvmmsg(ctx->fd, ctx->rx, SLOTS, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      /* ECONNREFUSED and friends (ICMP for an earlier reply) concern one peer, not the socket. */
      ctx->recv_errors += 1;
      continue;
    }
    if (n == 0) return;
    uint32_t *meta = (uint32_t *)ctx->arena[AB_INPUT_META];
    for (int i = 0; i < n; i++) {
      uint32_t *m = meta + i * META_WORDS;
      int truncated = (ctx->rx[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      m[META_LENGTH] = truncated ? SLOT_SIZE : ctx->rx[i].msg_len;
      m[META_FLAGS] = truncated ? FLAG_TRUNCATED : 0;
      m[META_ADDR_LENGTH] = ctx->rx[i].msg_hdr.msg_namelen;
      if (truncated) ctx->truncated += 1;
    }
    ctx->received += n;
    ctx->batches += 1;
    int left = ctx->memo != NULL ? answer_from_memo(ctx, n) : n;
    if (left > 0) {
      ctx->in_batch = 1;
      call_js(ctx, n);
      ctx->in_batch = 0;
      /* One batch of JS work per wakeup: under a flood, TCP and timers get a turn every SLOTS
       * datagrams, not every MAX_BATCHES * SLOTS (the poll is level-triggered: the rest comes next turn).
       * Batches the memo answered whole cost microseconds and go on. */
      return;
    }
    /* A short batch drained the queue; the poll is level-triggered if more arrived since. */
    if (n < SLOTS) return;
  }
}

/* open(host: IP literal, port: 0..65535, bufferBytes: 0 (kernel default) or up to 2^30, onBatch) -> handle */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_msg(env, napi_throw_type_error, "ERR_MISSING_ARGS", "udp_batch.open: expected (host, port, bufferBytes, onBatch)");
  char host[64];
  size_t host_len = 0, full_len = 0;
  napi_valuetype type;
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_string) {
    return throw_msg(env, napi_throw_type_error, "ERR_INVALID_ARG_TYPE", "udp_batch.open: host must be a string (an IP address)");
  }
  CHECK(env, napi_get_value_string_utf8(env, argv[0], NULL, 0, &full_len));
  CHECK(env, napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len));
  /* A longer string would be cut, one with a NUL read short: either could bind another address than asked. */
  if (full_len != host_len || strlen(host) != host_len) {
    napi_throw_type_error(env, "ERR_INVALID_IP_ADDRESS", "udp_batch.open: host is not an IP address");
    return NULL;
  }
  double port_d, buffer_d;
  if (!int_arg(env, argv[1], 0, 65535, "open", "port", &port_d) || !int_arg(env, argv[2], 0, BUFFER_MAX, "open", "bufferBytes", &buffer_d)) return NULL;
  if (napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function) {
    return throw_msg(env, napi_throw_type_error, "ERR_INVALID_ARG_TYPE", "udp_batch.open: onBatch must be a function");
  }
  int port = (int)port_d, buffer_bytes = (int)buffer_d;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  memset(&addr, 0, sizeof addr);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    addr_len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    addr_len = sizeof *a6;
  } else {
    napi_throw_type_error(env, "ERR_INVALID_IP_ADDRESS", "udp_batch.open: host is not an IP address");
    return NULL;
  }
  char where[96];
  snprintf(where, sizeof where, addr.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
  int fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", where);
  if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", where);
  }
  if (buffer_bytes > 0) {
    /* Capped by net.core.{r,w}mem_max; the default works, just with less burst room. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  int bound_port = port;
  if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0) {
    bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);
  }

  udp_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "calloc", where);
  }
  ctx->env = env;
  ctx->fd = fd;
  napi_value handle, sizes[AB_COUNT];
  const size_t lengths[AB_COUNT] = {SLOTS * SLOT_SIZE, SLOTS * META_SIZE, SLOTS * SLOT_SIZE, SLOTS * META_SIZE};
  int ok = napi_create_object(env, &handle) == napi_ok && napi_type_tag_object(env, handle, &HANDLE_TAG) == napi_ok;
  for (int i = 0; ok && i < AB_COUNT; i++) {
    void *data = NULL;
    ok = napi_create_arraybuffer(env, lengths[i], &data, &sizes[i]) == napi_ok && napi_create_reference(env, sizes[i], 1, &ctx->buffers[i]) == napi_ok;
    ctx->arena[i] = data;
  }
  ok = ok && napi_create_reference(env, argv[3], 1, &ctx->callback) == napi_ok;
  napi_value resource_name;
  ok = ok && napi_create_string_utf8(env, "mna:udp-batch", NAPI_AUTO_LENGTH, &resource_name) == napi_ok &&
       napi_async_init(env, handle, resource_name, &ctx->async) == napi_ok;
  if (ok) {
    napi_value slots, slot_size, meta_size, bound_port_v;
    napi_create_int32(env, SLOTS, &slots);
    napi_create_int32(env, SLOT_SIZE, &slot_size);
    napi_create_int32(env, META_SIZE, &meta_size);
    napi_create_int32(env, bound_port, &bound_port_v);
    /* Read-only: JS cannot swap an arena for another the kernel would not be writing to. */
    napi_property_descriptor props[] = {
        {"input", NULL, NULL, NULL, NULL, sizes[AB_INPUT], napi_enumerable, NULL},
        {"inputMeta", NULL, NULL, NULL, NULL, sizes[AB_INPUT_META], napi_enumerable, NULL},
        {"output", NULL, NULL, NULL, NULL, sizes[AB_OUTPUT], napi_enumerable, NULL},
        {"outputMeta", NULL, NULL, NULL, NULL, sizes[AB_OUTPUT_META], napi_enumerable, NULL},
        {"slots", NULL, NULL, NULL, NULL, slots, napi_enumerable, NULL},
        {"slotSize", NULL, NULL, NULL, NULL, slot_size, napi_enumerable, NULL},
        {"metaSize", NULL, NULL, NULL, NULL, meta_size, napi_enumerable, NULL},
        {"port", NULL, NULL, NULL, NULL, bound_port_v, napi_enumerable, NULL},
    };
    ok = napi_define_properties(env, handle, sizeof props / sizeof props[0], props) == napi_ok;
  }
  ok = ok && napi_wrap(env, handle, ctx, finalize, NULL, NULL) == napi_ok;
  if (!ok) {
    release_refs(ctx);
    free(ctx);
    close(fd);
    napi_throw_error(env, "EUDPBATCH", "udp_batch.open: out of memory creating the socket handle");
    return NULL;
  }
  /* From here ctx belongs to the wrapper: freed by finalize() once closed and unreachable. */
  napi_create_reference(env, handle, 1, &ctx->self);
  for (int i = 0; i < SLOTS; i++) {
    ctx->rx_iov[i].iov_base = ctx->arena[AB_INPUT] + i * SLOT_SIZE;
    ctx->rx_iov[i].iov_len = SLOT_SIZE;
    ctx->rx[i].msg_hdr.msg_iov = &ctx->rx_iov[i];
    ctx->rx[i].msg_hdr.msg_iovlen = 1;
    ctx->rx[i].msg_hdr.msg_name = ctx->arena[AB_INPUT_META] + i * META_SIZE + META_ADDR * 4;
    ctx->tx_iov[i].iov_base = ctx->arena[AB_OUTPUT] + i * SLOT_SIZE;
    ctx->tx[i].msg_hdr.msg_iov = &ctx->tx_iov[i];
    ctx->tx[i].msg_hdr.msg_iovlen = 1;
    ctx->tx[i].msg_hdr.msg_name = ctx->arena[AB_OUTPUT_META] + i * META_SIZE + META_ADDR * 4;
  }
  uv_loop_t *loop = NULL;
  int err = napi_get_uv_event_loop(env, &loop) == napi_ok ? uv_poll_init(loop, &ctx->poll, fd) : UV_EINVAL;
  if (err == 0) {
    ctx->poll.data = ctx;
    ctx->poll_live = 1;
    ctx->open = 1;
    err = uv_poll_start(&ctx->poll, UV_READABLE, on_readable);
    if (err == 0) {
      napi_add_env_cleanup_hook(env, env_cleanup, ctx);
      return handle;
    }
    shut(ctx); /* closes fd, releases the references; the wrapper's finalizer frees ctx */
  } else {
    close(fd);
    release_refs(ctx);
    napi_delete_reference(env, ctx->self);
    ctx->self = NULL;
  }
  return throw_errno(env, -err, "uv_poll_start", where);
}

/* send(handle, count) -> datagrams sent; slots 0..count-1 of the output arena. */
static napi_value udp_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  udp_ctx *ctx = open_handle_args(env, info, 2, argv, "send", "(handle, count)");
  if (ctx == NULL) return NULL;
  double count_d;
  if (!int_arg(env, argv[1], 0, SLOTS, "send", "count", &count_d)) return NULL;
  int count = (int)count_d, sent = 0;
  if (count > 0) {
    const uint32_t *meta = (const uint32_t *)ctx->arena[AB_OUTPUT_META];
    for (int i = 0; i < count; i++) {
      const uint32_t *m = meta + i * META_WORDS;
      ctx->tx_iov[i].iov_len = m[META_LENGTH] > SLOT_SIZE ? SLOT_SIZE : m[META_LENGTH];
      ctx->tx[i].msg_hdr.msg_namelen = m[META_ADDR_LENGTH] > ADDR_MAX ? ADDR_MAX : m[META_ADDR_LENGTH];
    }
    sent = send_all(ctx, ctx->tx, count);
    if (ctx->memo != NULL && ctx->in_batch) remember(ctx, count);
  }
  napi_value result;
  CHECK(env, napi_create_int32(env, sent, &result));
  return result;
}

/* The bytes of sendTo()'s address: meta words META_ADDR_LENGTH.. of a slot (sockaddr length, the memo word, sockaddr). */
#define SENDTO_ADDR_BYTES (META_SIZE - META_ADDR_LENGTH * 4)
#define SENDTO_SOCKADDR_AT ((META_ADDR - META_ADDR_LENGTH) * 4)

/* sendTo(handle, payload: Uint8Array, address: Uint8Array of SENDTO_ADDR_BYTES) -> bool. */
static napi_value udp_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  udp_ctx *ctx = open_handle_args(env, info, 3, argv, "sendTo", "(handle, payload, address)");
  if (ctx == NULL) return NULL;
  void *payload = NULL, *addr = NULL;
  size_t payload_len = 0, addr_len = 0;
  if (!typed_arg(env, argv[1], napi_uint8_array, "sendTo", "payload", "Uint8Array", &payload, &payload_len) ||
      !typed_arg(env, argv[2], napi_uint8_array, "sendTo", "address", "Uint8Array", &addr, &addr_len)) {
    return NULL;
  }
  if (addr_len != SENDTO_ADDR_BYTES) {
    return throw_msg(env, napi_throw_range_error, "ERR_OUT_OF_RANGE", "udp_batch.sendTo: address must be %d bytes (meta bytes %d..%d of a slot), not %zu",
                     SENDTO_ADDR_BYTES, META_ADDR_LENGTH * 4, META_SIZE, addr_len);
  }
  uint32_t sa_len;
  memcpy(&sa_len, addr, sizeof sa_len);
  if (sa_len > ADDR_MAX) sa_len = ADDR_MAX;
  struct sockaddr_storage sa;
  memset(&sa, 0, sizeof sa);
  memcpy(&sa, (uint8_t *)addr + SENDTO_SOCKADDR_AT, sa_len);
  ssize_t r;
  do r = sendto(ctx->fd, payload, payload_len, MSG_DONTWAIT, (struct sockaddr *)&sa, sa_len);
  while (r < 0 && errno == EINTR);
  if (r < 0) ctx->send_dropped += 1;
  napi_value result;
  CHECK(env, napi_get_boolean(env, r >= 0, &result));
  return result;
}

/* close(handle): the fd now; twice is harmless. */
static napi_value udp_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_ctx *ctx = handle_args(env, info, 1, argv, "close", "(handle)");
  if (ctx == NULL) return NULL;
  shut(ctx);
  return NULL;
}

static napi_value udp_counters(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_ctx *ctx = handle_args(env, info, 1, argv, "counters", "(handle)");
  if (ctx == NULL) return NULL;
  napi_value out, v;
  CHECK(env, napi_create_object(env, &out));
  const struct { const char *name; double value; } fields[] = {
      {"received", ctx->received}, {"batches", ctx->batches}, {"truncated", ctx->truncated},
      {"sendDropped", ctx->send_dropped}, {"recvErrors", ctx->recv_errors}, {"open", ctx->open},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    CHECK(env, napi_create_double(env, fields[i].value, &v));
    CHECK(env, napi_set_named_property(env, out, fields[i].name, v));
  }
  return out;
}

/*
 * The DNS hot path's clock. performance.now() returns a heap number (Node 20's also builds an array
 * from process.hrtime), so timing every query was garbage per query; these return integers V8 keeps
 * as small integers, and reading them allocates nothing.
 * clockMicros: microseconds, wrapping at 2^30 (~17.9 minutes): for durations, taken modulo 2^30.
 */
static napi_value clock_micros(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  CHECK(env, napi_create_int32(env, (int32_t)(monotonic_now(NULL) & 0x3fffffffu), &v));
  return v;
}

/* Whole seconds of CLOCK_MONOTONIC (since boot: fits 31 bits for 68 years). */
static napi_value clock_seconds(napi_env env, napi_callback_info info) {
  (void)info;
  uint32_t second;
  monotonic_now(&second);
  napi_value v;
  CHECK(env, napi_create_int32(env, (int32_t)second, &v));
  return v;
}

/*
 * enableMemo(handle, epoch: Uint32Array, latencyBoundsMicros: Float64Array) -> { stats, ttls } ArrayBuffers.
 * The addon reads epoch[0] on every batch and writes stats and reads ttls: each is held by a
 * reference until the poll handle closes, so no garbage collection can free what C points into.
 */
static napi_value udp_enable_memo(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  udp_ctx *ctx = open_handle_args(env, info, 3, argv, "enableMemo", "(handle, epoch, latencyBoundsMicros)");
  if (ctx == NULL) return NULL;
  size_t epoch_len = 0, bounds_len = 0;
  void *epoch = NULL, *bounds = NULL;
  if (!typed_arg(env, argv[1], napi_uint32_array, "enableMemo", "epoch", "Uint32Array", &epoch, &epoch_len) ||
      !typed_arg(env, argv[2], napi_float64_array, "enableMemo", "latencyBoundsMicros", "Float64Array", &bounds, &bounds_len)) {
    return NULL;
  }
  if (epoch_len < 1) return throw_msg(env, napi_throw_range_error, "ERR_OUT_OF_RANGE", "udp_batch.enableMemo: epoch must have at least one element");
  if (bounds_len > FS_MAX_BOUNDS) {
    return throw_msg(env, napi_throw_range_error, "ERR_OUT_OF_RANGE", "udp_batch.enableMemo: latencyBoundsMicros has %zu bounds, at most %d are kept", bounds_len,
                     FS_MAX_BOUNDS);
  }
  if (ctx->memo != NULL) {
    napi_throw_error(env, "EUDPBATCH", "udp_batch.enableMemo: already enabled on this socket");
    return NULL;
  }
  /* Everything is made first and kept only if all of it was: a failure leaves the socket as it was. */
  napi_value stats, ttls, result;
  void *stats_data = NULL, *ttl_data = NULL;
  napi_ref refs[3] = {NULL, NULL, NULL};
  reply_memo *memo = NULL;
  int ok = napi_create_arraybuffer(env, FS_LENGTH * sizeof(double), &stats_data, &stats) == napi_ok &&
           napi_create_arraybuffer(env, SLOTS * TTL_WORDS * sizeof(uint16_t), &ttl_data, &ttls) == napi_ok && napi_create_object(env, &result) == napi_ok &&
           napi_set_named_property(env, result, "stats", stats) == napi_ok && napi_set_named_property(env, result, "ttls", ttls) == napi_ok &&
           napi_create_reference(env, argv[1], 1, &refs[0]) == napi_ok && napi_create_reference(env, stats, 1, &refs[1]) == napi_ok &&
           napi_create_reference(env, ttls, 1, &refs[2]) == napi_ok && (memo = memo_new()) != NULL;
  if (!ok) {
    for (int i = 0; i < 3; i++) {
      if (refs[i] != NULL) napi_delete_reference(env, refs[i]);
    }
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "EUDPBATCH", "udp_batch.enableMemo: out of memory");
    return NULL;
  }
  ctx->epoch_ref = refs[0];
  ctx->stats_ref = refs[1];
  ctx->ttls_ref = refs[2];
  ctx->memo = memo;
  memset(stats_data, 0, FS_LENGTH * sizeof(double));
  memset(ttl_data, 0, SLOTS * TTL_WORDS * sizeof(uint16_t));
  ctx->fast_stats = stats_data;
  ctx->memo_ttls = ttl_data;
  ctx->epoch = epoch;
  memcpy(ctx->bucket_us, bounds, bounds_len * sizeof(double));
  ctx->buckets = (int)bounds_len;
  for (int i = 0; i < SLOTS; i++) {
    ctx->fast_iov[i].iov_base = ctx->fast_out[i];
    ctx->fast_tx[i].msg_hdr.msg_iov = &ctx->fast_iov[i];
    ctx->fast_tx[i].msg_hdr.msg_iovlen = 1;
  }
  return result;
}

/* `layout`: udp_batch_layout.h's numbers, for the loader to check against its own. */
static napi_value layout_object(napi_env env) {
  napi_value layout, v;
  if (napi_create_object(env, &layout) != napi_ok) return NULL;
#define UDP_BATCH_LAYOUT_EXPORT(c_name, js_name, value)                                                               \
  if (napi_create_int32(env, c_name, &v) != napi_ok || napi_set_named_property(env, layout, #js_name, v) != napi_ok) return NULL;
  UDP_BATCH_LAYOUT(UDP_BATCH_LAYOUT_EXPORT)
#undef UDP_BATCH_LAYOUT_EXPORT
  return napi_object_freeze(env, layout) == napi_ok ? layout : NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor fns[] = {
      {"open", NULL, udp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, udp_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendTo", NULL, udp_send_to, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, udp_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"counters", NULL, udp_counters, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clockMicros", NULL, clock_micros, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clockSeconds", NULL, clock_seconds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"enableMemo", NULL, udp_enable_memo, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value layout = layout_object(env);
  if (layout == NULL || napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok ||
      napi_set_named_property(env, exports, "layout", layout) != napi_ok) {
    return NULL;
  }
  return exports;
}
