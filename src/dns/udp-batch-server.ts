/**
 * The UDP side of a listener on the native batched socket: per batch of received datagrams, each
 * query goes through the resolver, which writes answers it has at once (hosts, mesh, cache) straight
 * into the output arena; the batch is flushed with one sendmmsg at its end. Answers that come later
 * (forwarded queries) go out one by one with the client's address saved for them.
 */
import { ANSWER_LATER, MIN_OUTPUT_ROOM, type Resolver } from './resolver.js';
import type { UdpBatchAddon, UdpBatchHandle } from './udp-batch.js';

/** Meta bytes 8..47 of a slot: sockaddr length, unused, sockaddr (what sendTo takes). */
const ADDR_FROM = 8;

/**
 * The `respond` given to the resolver for the query in one input slot, for answers that do not come
 * back from handle(). Reused batch after batch while none is needed (no closure per packet); once the
 * resolver keeps one for a later answer, that one gets the client's address and the slot a fresh one.
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

  private constructor(
    private readonly addon: UdpBatchAddon,
    private readonly handle: UdpBatchHandle,
    private readonly resolver: () => Resolver,
  ) {
    this.input = Buffer.from(handle.input);
    this.inMeta32 = new Uint32Array(handle.inputMeta);
    this.inMeta8 = new Uint8Array(handle.inputMeta);
    this.output = Buffer.from(handle.output);
    this.outMeta32 = new Uint32Array(handle.outputMeta);
    this.words = handle.metaSize / 4;
    if (handle.slotSize < MIN_OUTPUT_ROOM) throw new Error(`udp-batch slots of ${handle.slotSize} bytes are smaller than a cached reply (${MIN_OUTPUT_ROOM})`);
    this.responders = Array.from({ length: handle.slots }, (_, slot) => this.responder(slot));
  }

  /** Binds host:port; throws like dgram's bind (Error with code EADDRINUSE, EACCES...). */
  static start(addon: UdpBatchAddon, host: string, port: number, bufferBytes: number, resolver: () => Resolver): BatchUdpServer {
    // The addon calls back only from the event loop, after this function has returned.
    const self: { server?: BatchUdpServer } = {};
    const handle = addon.open(host, port, bufferBytes, (count) => self.server?.onBatch(count));
    self.server = new BatchUdpServer(addon, handle, resolver);
    return self.server;
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
    this.outCount = 0;
    try {
      for (let slot = 0; slot < count && this.open; slot++) {
        const m = slot * words;
        if (inMeta[m + 1] !== 0) {
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
        const written = resolver.handle(this.input, start, start + inMeta[m]!, false, this.output, o * slotSize, slotSize, r.respond);
        r.inBatch = false;
        if (written > 0) {
          const om = o * words;
          outMeta[om] = written;
          for (let w = 2; w < words; w++) outMeta[om + w] = inMeta[m + w]!;
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
