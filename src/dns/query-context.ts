/**
 * One query on its way through Resolver.handle(): the request's bytes (read where they lie), the room
 * a synchronous answer is written into, the `respond` for answers that come later and, on the batched
 * UDP path, the reply memo's recorder. Each server keeps one context (a UDP socket one, a TCP
 * connection one) and overwrites its fields for every query, so passing a query costs no allocation:
 * the hot path stays free of garbage (resolver.ts).
 */

/** An answer that did not come back from handle(): forwarded, or too big for the output room. */
export type Respond = (reply: Buffer) => void;

/** The answer sources the reply memo may keep until the answer epoch changes. */
export type LocalSource = 'hosts' | 'mesh';

/**
 * What the resolver tells the native reply memo (reply-memo.ts SlotMemo) about the answer it just
 * wrote in place; the memo's layout stays on the memo's side. Only called for answers written whole
 * (nothing truncated, forwarded or failed).
 */
export interface MemoSink {
  /** Where a cache hit reports its expiry second and TTL offsets (cache.getInto), from `ttlBase`. */
  readonly ttls: Uint16Array;
  readonly ttlBase: number;
  /** The hosts or mesh answer just written may be kept until the answer epoch changes. */
  keepLocal(source: LocalSource): void;
  /** The cache hit just written, its TTL report complete, may be kept until its entry expires. */
  keepCacheHit(): void;
}

/** The fixed part of a context: where its answers go. */
export interface QueryContextInit {
  /** The client came over TCP: no UDP size limit, and forwarded over TCP. */
  tcp: boolean;
  /** Where a synchronous answer is written: `out[at]`, with `room` bytes (at least MIN_OUTPUT_ROOM). */
  out: Buffer;
  at?: number;
  room: number;
  respond: Respond;
  memo?: MemoSink;
}

const EMPTY = Buffer.alloc(0);

export class QueryContext {
  /** The query is `packet[start, end)`; `packet` and `out` are used only during handle(). */
  packet: Buffer = EMPTY;
  start = 0;
  end = 0;
  tcp: boolean;
  out: Buffer;
  at: number;
  room: number;
  respond: Respond;
  readonly memo: MemoSink | undefined;
  /** The resolver's, per query: the reply's size limit (the client's UDP size, or TCP's). */
  limit = 0;
  /** The resolver's, per query: clock.micros() when it arrived (the latency histogram). */
  started = 0;

  constructor(init: QueryContextInit) {
    this.tcp = init.tcp;
    this.out = init.out;
    this.at = init.at ?? 0;
    this.room = init.room;
    this.respond = init.respond;
    this.memo = init.memo;
  }

  /** Points the context at the next query, `packet[start, end)`. */
  request(packet: Buffer, start: number, end: number): this {
    this.packet = packet;
    this.start = start;
    this.end = end;
    return this;
  }
}
