/**
 * The UDP side of a listener on the native batched socket: per batch of received datagrams, each
 * query goes through the resolver; answers produced synchronously (hosts, mesh, cache) are written
 * into the output arena and flushed with one sendmmsg at the end of the batch. Answers that come
 * later (forwarded queries) go out one by one with the client's address saved for them.
 */
import type { Resolver } from './resolver.js';
import type { UdpBatchAddon, UdpBatchHandle } from './udp-batch.js';

/** Meta bytes 8..47 of a slot: sockaddr length, unused, sockaddr (what sendTo takes). */
const ADDR_FROM = 8;

interface Batch {
  live: boolean;
  /** Addresses of queries answered after the batch, by input slot. */
  saved: (Uint8Array | undefined)[] | undefined;
}

export class BatchUdpServer {
  private open = true;
  private readonly input: Buffer;
  private readonly inMeta32: Uint32Array;
  private readonly inMeta8: Uint8Array;
  private readonly output: Uint8Array;
  private readonly outMeta32: Uint32Array;
  private readonly words: number;
  private outCount = 0;
  private current = -1;
  /** Set when a synchronous reply bypassed the arena (too big for a slot). */
  private sentDirect = false;

  private constructor(
    private readonly addon: UdpBatchAddon,
    private readonly handle: UdpBatchHandle,
    private readonly resolver: () => Resolver,
  ) {
    this.input = Buffer.from(handle.input);
    this.inMeta32 = new Uint32Array(handle.inputMeta);
    this.inMeta8 = new Uint8Array(handle.inputMeta);
    this.output = new Uint8Array(handle.output);
    this.outMeta32 = new Uint32Array(handle.outputMeta);
    this.words = handle.metaSize / 4;
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

  private onBatch(count: number): void {
    const resolver = this.resolver();
    const { slotSize } = this.handle;
    const words = this.words;
    const batch: Batch = { live: true, saved: undefined };
    this.outCount = 0;
    try {
      for (let slot = 0; slot < count && this.open; slot++) {
        const m = slot * words;
        if (this.inMeta32[m + 1] !== 0) {
          // Longer than a slot: no DNS query is; treat it like any other garbage packet.
          resolver.stats.queries += 1;
          resolver.stats.dropped += 1;
          continue;
        }
        this.current = slot;
        // A view into the arena, valid only during this call: the resolver copies what it keeps.
        const packet = this.input.subarray(slot * slotSize, slot * slotSize + this.inMeta32[m]!);
        const answered = this.outCount;
        const willAnswer = resolver.handle(packet, false, (reply) => this.reply(reply, slot, batch));
        if (willAnswer && this.outCount === answered && !this.sentDirect) {
          // Answered later: keep the client's address, the meta slot is reused by the next batch.
          batch.saved ??= [];
          batch.saved[slot] = this.inMeta8.slice(m * 4 + ADDR_FROM, m * 4 + this.handle.metaSize);
        }
        this.sentDirect = false;
      }
    } finally {
      batch.live = false;
      this.current = -1;
      if (this.outCount > 0 && this.open) this.addon.send(this.handle, this.outCount);
      this.outCount = 0;
    }
  }

  private reply(reply: Buffer, slot: number, batch: Batch): void {
    if (!this.open) return; // a forwarded answer after stop(): nowhere to go
    if (batch.live && slot === this.current) {
      const m = slot * this.words;
      if (reply.length > this.handle.slotSize) {
        this.addon.sendTo(this.handle, reply, this.inMeta8.subarray(m * 4 + ADDR_FROM, m * 4 + this.handle.metaSize));
        this.sentDirect = true;
        return;
      }
      const o = this.outCount++;
      this.output.set(reply, o * this.handle.slotSize);
      const om = o * this.words;
      const out = this.outMeta32;
      const inp = this.inMeta32;
      out[om] = reply.length;
      for (let w = 2; w < this.words; w++) out[om + w] = inp[m + w]!;
      return;
    }
    const address = batch.saved?.[slot];
    if (address !== undefined) {
      batch.saved![slot] = undefined;
      this.addon.sendTo(this.handle, reply, address);
    }
  }
}
