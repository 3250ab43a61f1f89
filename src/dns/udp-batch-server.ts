/**
 * The UDP side of a listener on the native batched socket: per batch of received datagrams, each
 * query goes through the resolver, which writes answers it has at once (hosts, mesh, cache) straight
 * into the output arena; the batch is flushed with one sendmmsg at its end. Answers that come later
 * (forwarded queries) go out one by one with the client's address saved for them.
 *
 * With the reply memo on (the default; MNA_DNS_UDP_MEMO=off turns it off), every answer the resolver
 * says may be kept is marked for the addon, which answers exact repeats of those queries itself until
 * the answer epoch changes (cache hits: until their entry expires, the addon counting their TTLs down
 * at the offsets the cache wrote); fold() brings its counts into the resolver's statistics.
 */
import type { DnsCache } from './cache.js';
import { QueryContext } from './query-context.js';
import { MEMO_SLOT_SHIFT, MEMO_TTL_WORDS, SlotMemo, foldFastStats } from './reply-memo.js';
import { ANSWER_LATER, MIN_OUTPUT_ROOM, type Resolver } from './resolver.js';
import { LATENCY_BUCKETS_MICROS, type DnsStats } from './stats.js';
import type { UdpBatchAddon, UdpBatchHandle } from './udp-batch.js';
import { UDP_BATCH_LAYOUT as L } from './udp-batch-layout.js';
import { AgentError, ErrorCode } from '../errors.js';

/** Meta bytes from here to the slot's end: sockaddr length, the memo word (0 on input), sockaddr (what sendTo takes). */
const ADDR_FROM = L.metaAddrLength * 4;
const LENGTH = L.metaLength;
const FLAGS = L.metaFlags;
const ANSWERED = L.flagAnswered;
/** Output meta word: what the memo may keep of the reply (reply-memo.ts memoWord). */
const MEMO_WORD = L.metaMemo;

/**
 * The `respond` given to the resolver (in the context) for the query in one input slot, for answers
 * that do not come back from handle(). Reused batch after batch while none is needed (no closure per
 * packet); once the resolver keeps one for a later answer, that one gets the client's address and
 * the slot a fresh one.
 */
interface Responder {
  readonly slot: number;
  /** True while its query is being handled: the client's address is still in the input meta. */
  inBatch: boolean;
  answered: boolean;
  /** Set when answered after the batch (forwarded). */
  address: Uint8Array | undefined;
  readonly respond: (reply: Buffer) => void;
}

export class BatchUdpServer {
  private open = true;
  private readonly input: Buffer;
  private readonly inMeta32: Uint32Array;
  private readonly inMeta8: Uint8Array;
  private readonly output: Buffer;
  private readonly outMeta32: Uint32Array;
  private readonly words: number;
  private readonly responders: Responder[];
  private outCount = 0;
  /** The addon's counts of the answers it gave from the memo, and how much of them fold() has taken. */
  private readonly fast: Float64Array | undefined;
  /** What the memo may keep of each answer, and where cache hits report their TTLs (undefined: memo off). */
  private readonly memoSink: SlotMemo | undefined;
  private readonly folded = new Float64Array(L.statsLength);
  /** Every query of every batch goes to the resolver in this one context. */
  private readonly ctx: QueryContext;

  private constructor(
    private readonly addon: UdpBatchAddon,
    private readonly handle: UdpBatchHandle,
    private readonly resolver: () => Resolver,
    memo: boolean,
  ) {
    const shared = memo ? addon.enableMemo(handle, resolver().epoch.cell, new Float64Array(LATENCY_BUCKETS_MICROS)) : undefined;
    this.fast = shared && new Float64Array(shared.stats);
    const ttls = shared && new Uint16Array(shared.ttls);
    if (ttls !== undefined && ttls.length < handle.slots * MEMO_TTL_WORDS) throw new AgentError(ErrorCode.Internal, 'udp-batch: the memo TTL buffer is smaller than the slots');
    this.memoSink = ttls && new SlotMemo(ttls);
    if (this.fast !== undefined && this.fast.length < L.statsLength) throw new AgentError(ErrorCode.Internal, 'udp-batch: the memo statistics buffer is smaller than its layout');
    this.input = Buffer.from(handle.input);
    this.inMeta32 = new Uint32Array(handle.inputMeta);
    this.inMeta8 = new Uint8Array(handle.inputMeta);
    this.output = Buffer.from(handle.output);
    this.outMeta32 = new Uint32Array(handle.outputMeta);
    this.words = handle.metaSize / 4;
    if (handle.slotSize < MIN_OUTPUT_ROOM) throw new AgentError(ErrorCode.Internal, `udp-batch slots of ${handle.slotSize} bytes are smaller than a cached reply (${MIN_OUTPUT_ROOM})`);
    this.responders = Array.from({ length: handle.slots }, (_, slot) => this.responder(slot));
    this.ctx = new QueryContext({ tcp: false, out: this.output, room: handle.slotSize, respond: this.responders[0]!.respond, memo: this.memoSink });
  }

  /** Binds host:port; throws like dgram's bind (Error with code EADDRINUSE, EACCES...). */
  static start(addon: UdpBatchAddon, host: string, port: number, bufferBytes: number, resolver: () => Resolver, memo = process.env['MNA_DNS_UDP_MEMO'] !== 'off'): BatchUdpServer {
    // The addon calls back only from the event loop, after this function has returned.
    const self: { server?: BatchUdpServer } = {};
    const handle = addon.open(host, port, bufferBytes, (count) => self.server?.onBatch(count));
    try {
      self.server = new BatchUdpServer(addon, handle, resolver, memo);
    } catch (err) {
      addon.close(handle);
      throw err;
    }
    return self.server;
  }

  /** The bound port. */
  get port(): number {
    return this.handle.port;
  }

  /** Whether the addon answers repeats itself (status field `listeners[].memo`). */
  get memo(): boolean {
    return this.fast !== undefined;
  }

  /** Answers the addon has given from the memo (status field `listeners[].memoAnswered`). */
  get memoAnswered(): number {
    return this.fast?.[L.statsAnswered] ?? 0;
  }

  /** Adds the answers the addon gave since the last call to `stats` (and its cache hits to `cache`). */
  fold(stats: DnsStats, cache: DnsCache): void {
    if (this.fast !== undefined) cache.hits += foldFastStats(this.fast, this.folded, stats);
  }

  stop(): void {
    if (!this.open) return;
    this.open = false;
    this.addon.close(this.handle);
  }

  counters(): ReturnType<UdpBatchAddon['counters']> {
    return this.addon.counters(this.handle);
  }

  private responder(slot: number): Responder {
    const r: Responder = { slot, inBatch: false, answered: false, address: undefined, respond: (reply) => this.reply(reply, r) };
    return r;
  }

  private onBatch(count: number): void {
    const resolver = this.resolver();
    const { slotSize, metaSize } = this.handle;
    const words = this.words;
    const inMeta = this.inMeta32;
    const outMeta = this.outMeta32;
    const ctx = this.ctx;
    const memo = this.memoSink;
    this.outCount = 0;
    try {
      for (let slot = 0; slot < count && this.open; slot++) {
        const m = slot * words;
        const flags = inMeta[m + FLAGS]!;
        if (flags === ANSWERED) continue;
        if (flags !== 0) {
          // Longer than a slot: no DNS query is; treat it like any other garbage packet.
          resolver.stats.queries += 1;
          resolver.stats.dropped += 1;
          continue;
        }
        const r = this.responders[slot]!;
        r.inBatch = true;
        r.answered = false;
        const o = this.outCount;
        // The arena is valid only during this call: the resolver copies what it keeps.
        const start = slot * slotSize;
        ctx.request(this.input, start, start + inMeta[m + LENGTH]!);
        ctx.at = o * slotSize;
        ctx.respond = r.respond;
        memo?.begin(o);
        const written = resolver.handle(ctx);
        r.inBatch = false;
        if (written > 0) {
          const om = o * words;
          outMeta[om + LENGTH] = written;
          for (let w = L.metaAddrLength; w < words; w++) outMeta[om + w] = inMeta[m + w]!;
          outMeta[om + MEMO_WORD] = memo === undefined || memo.word === 0 ? 0 : memo.word | (slot << MEMO_SLOT_SHIFT);
          this.outCount = o + 1;
        } else if (written === ANSWER_LATER && !r.answered) {
          // Answered later: this responder keeps the client's address (the meta slot is reused). A
          // Buffer copy comes from Node's pool; a Uint8Array slice would be an ArrayBuffer per query,
          // and the collector sweeps every ArrayBuffer one by one.
          r.address = Buffer.from(this.inMeta8.subarray(m * 4 + ADDR_FROM, m * 4 + metaSize));
          this.responders[slot] = this.responder(slot);
        }
      }
    } finally {
      if (this.outCount > 0 && this.open) this.addon.send(this.handle, this.outCount);
      this.outCount = 0;
    }
  }

  private reply(reply: Buffer, r: Responder): void {
    if (!this.open || r.answered) return; // after stop() a forwarded answer has nowhere to go
    r.answered = true;
    if (r.inBatch) {
      // Too big for an output slot: straight out, to the address still in this batch's meta.
      const m = r.slot * this.words * 4;
      this.addon.sendTo(this.handle, reply, this.inMeta8.subarray(m + ADDR_FROM, m + this.handle.metaSize));
      return;
    }
    const address = r.address;
    r.address = undefined;
    if (address !== undefined) this.addon.sendTo(this.handle, reply, address);
  }
}
