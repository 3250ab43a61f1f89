/**
 * Wire-level cache of forwarded replies, keyed by the lowercase name, type, class and the
 * EDNS/DO/CD flags (a reply for an EDNS client carries an OPT record a plain client must not get).
 * A hit is the stored bytes with the client's ID and question (its own letter case) patched in and
 * every TTL reduced by the entry's age.
 *
 * Bounded, with CLOCK eviction (an approximation of least-recently-used): entries sit in fixed
 * slots, a hit only sets the slot's flag, and the hand passes over flagged slots once before it
 * evicts them; expired entries go first. The layout is for the garbage collector: an entry is its
 * reply as latin1 text, the query's name (the index's key: the variants of a name, A and AAAA, with
 * EDNS or without, chain from one slot to the next) and a few bytes in typed arrays, with no object,
 * Buffer or ArrayBuffer of its own, and a lookup makes no key string. A cache of Buffers and
 * per-entry objects made every miss leave several old-generation objects behind and kept the major
 * collector busy under a miss load.
 */
import { AnswerEpoch } from './answer-epoch.js';
import { cacheability, type CachePolicy } from './cache-policy.js';
import { performanceClock } from './clock.js';
import { RecordCursor } from './record-cursor.js';
import { MEMO_TTL_FIRST, MEMO_TTLS_MAX, closeMemoTtls } from './reply-memo.js';
import { HEADER, QType, copyBytes, type Query } from './wire.js';
import { AgentError, ErrorCode } from '../errors.js';

/** Replies larger than this are not kept, so the cache's memory stays bounded by size × this. */
export const MAX_CACHED_REPLY = 4096;

const FIRST_SLOTS = 256;

/** What identifies a cached reply; a parsed Query is one. */
export interface CacheKey {
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  readonly cacheFlags: number;
}

interface Kept {
  name: string;
  variant: number;
  reply: string;
  storedAt: number;
  ttl: number;
  used: number;
}

export class DnsCache {
  /** Name → the first slot of its chain of variants. */
  private readonly index = new Map<string, number>();
  private names: (string | undefined)[] = [];
  private replies: string[] = [];
  /** When each entry was stored, in the clock's whole seconds. */
  private storedAt = new Uint32Array(0);
  private ttls = new Uint32Array(0);
  private used = new Uint8Array(0);
  /** Type, class and cache flags of a slot, packed (see variantOf). */
  private variants = new Float64Array(0);
  /** The next slot with the same name, or -1. */
  private next = new Int32Array(0);
  /** Slots in [0, slots) have been handed out; `free` lists the emptied ones among them. */
  private slots = 0;
  private free: number[] = [];
  private hand = 0;
  private count = 0;
  private readonly cursor = new RecordCursor();
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(
    private maxEntries: number,
    private policy: CachePolicy,
    /** Monotonic whole seconds (clock.ts): an integer, so a hit's age costs no heap number. */
    private readonly now: () => number = performanceClock.seconds,
    /** Bumped when the cache is flushed, so no memo of a hit outlives it (answer-epoch.ts). */
    private readonly epoch: AnswerEpoch = new AnswerEpoch(),
  ) {}

  configure(maxEntries: number, policy: CachePolicy): void {
    this.policy = policy;
    if (maxEntries === this.maxEntries) return;
    // Re-slot what is kept: the slots must be a dense [0, maxEntries) for the hand.
    const kept: Kept[] = [];
    for (let s = 0; s < this.slots && kept.length < maxEntries; s++) {
      const name = this.names[s];
      if (name === undefined) continue;
      kept.push({ name, variant: this.variants[s]!, reply: this.replies[s]!, storedAt: this.storedAt[s]!, ttl: this.ttls[s]!, used: this.used[s]! });
    }
    this.evictions += this.count - kept.length;
    this.maxEntries = maxEntries;
    this.clear();
    for (const e of kept) this.place(e.name, e.variant, e.reply, e.storedAt, e.ttl, e.used);
  }

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.epoch.bump();
    this.index.clear();
    this.names = [];
    this.replies = [];
    this.storedAt = new Uint32Array(0);
    this.ttls = new Uint32Array(0);
    this.used = new Uint8Array(0);
    this.variants = new Float64Array(0);
    this.next = new Int32Array(0);
    this.slots = 0;
    this.free = [];
    this.hand = 0;
    this.count = 0;
  }

  /**
   * Writes the cached reply for the query in `packet[start, ...)` at `out[at]` and returns its
   * length, or -1 on a miss. `out` needs MAX_CACHED_REPLY bytes of room. With `ttls`, the hit's expiry
   * second and TTL offsets (from `at`) are reported at `ttls[base]` (layout: reply-memo.ts MEMO_TTL_WORDS).
   */
  getInto(query: Query, packet: Buffer, start: number, out: Buffer, at: number, ttls?: Uint16Array, base = 0): number {
    if (this.maxEntries === 0) return -1;
    const slot = this.find(query);
    if (slot < 0) {
      this.misses += 1;
      return -1;
    }
    const ttl = this.ttls[slot]!;
    const age = this.now() - this.storedAt[slot]!;
    if (age >= ttl) {
      this.remove(slot);
      this.misses += 1;
      return -1;
    }
    this.used[slot] = 1;
    this.hits += 1;
    const length = out.write(this.replies[slot]!, at, 'latin1');
    out[at] = packet[start]!;
    out[at + 1] = packet[start + 1]!;
    // Same name modulo case, so same length: the client sees its own spelling back.
    copyBytes(packet, start + HEADER, start + query.questionEnd, out, at + HEADER);
    // Every TTL counts down from what the upstream said, and never outlives the entry.
    const left = ttl - age;
    const cursor = this.cursor;
    cursor.reset(out, at, at + length);
    let count = 0;
    while (cursor.next()) {
      if (cursor.type === QType.OPT) continue;
      out.writeUInt32BE(Math.min(Math.max(out.readUInt32BE(cursor.ttlAt) - age, 0), left), cursor.ttlAt);
      if (ttls !== undefined && count < MEMO_TTLS_MAX) ttls[base + MEMO_TTL_FIRST + count] = cursor.ttlAt - at;
      count += 1;
    }
    if (ttls !== undefined) closeMemoTtls(ttls, base, count, this.storedAt[slot]! + ttl);
    return length;
  }

  put(key: CacheKey, reply: Buffer): void {
    if (this.maxEntries === 0 || reply.length > MAX_CACHED_REPLY) return;
    const c = cacheability(reply, this.policy);
    if (c === undefined) return;
    const slot = this.find(key);
    if (slot >= 0) this.remove(slot);
    this.place(key.name, variantOf(key), reply.toString('latin1'), this.now(), c.ttl, 0);
  }

  /** The slot holding `key`, or -1. */
  private find(key: CacheKey): number {
    const variant = variantOf(key);
    for (let slot = this.index.get(key.name) ?? -1; slot >= 0; slot = this.next[slot]!) {
      if (this.variants[slot] === variant) return slot;
    }
    return -1;
  }

  private place(name: string, variant: number, reply: string, storedAt: number, ttl: number, used: number): void {
    const slot = this.allocate();
    this.names[slot] = name;
    this.replies[slot] = reply;
    this.storedAt[slot] = storedAt;
    this.ttls[slot] = ttl;
    this.used[slot] = used;
    this.variants[slot] = variant;
    this.next[slot] = this.index.get(name) ?? -1;
    this.index.set(name, slot);
    this.count += 1;
  }

  private remove(slot: number): void {
    const name = this.names[slot];
    if (name === undefined) return;
    const head = this.index.get(name)!;
    const after = this.next[slot]!;
    if (head === slot) {
      if (after < 0) this.index.delete(name);
      else this.index.set(name, after);
    } else {
      let prev = head;
      while (this.next[prev] !== slot) prev = this.next[prev]!;
      this.next[prev] = after;
    }
    this.names[slot] = undefined;
    this.replies[slot] = '';
    this.free.push(slot);
    this.count -= 1;
  }

  /** A slot for a new entry: an emptied one, a new one while under the size, else an evicted one. */
  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.slots < this.maxEntries) {
      if (this.slots === this.storedAt.length) this.grow();
      return this.slots++;
    }
    return this.evict();
  }

  /** The CLOCK hand: expired entries go at once, flagged ones get a second chance. */
  private evict(): number {
    const now = this.now();
    // Two turns at most: the first clears every flag it passes.
    for (let step = 0; step <= 2 * this.slots; step++) {
      const slot = this.hand;
      this.hand = (this.hand + 1) % this.slots;
      const expired = now - this.storedAt[slot]! >= this.ttls[slot]!;
      if (this.used[slot] === 1 && !expired) {
        this.used[slot] = 0;
        continue;
      }
      this.remove(slot);
      this.evictions += 1;
      return this.free.pop()!;
    }
    throw new AgentError(ErrorCode.Internal, 'dns cache: no slot to evict');
  }

  private grow(): void {
    const size = Math.min(this.maxEntries, Math.max(FIRST_SLOTS, this.storedAt.length * 2));
    const grown = <A extends Float64Array | Uint32Array | Uint8Array | Int32Array>(from: A, to: A): A => {
      to.set(from);
      return to;
    };
    this.storedAt = grown(this.storedAt, new Uint32Array(size));
    this.ttls = grown(this.ttls, new Uint32Array(size));
    this.used = grown(this.used, new Uint8Array(size));
    this.variants = grown(this.variants, new Float64Array(size));
    this.next = grown(this.next, new Int32Array(size));
  }
}

/** Type, class and flags in one exact number (2^40 < 2^53). */
function variantOf(key: CacheKey): number {
  return key.qtype * 0x1000000 + key.qclass * 0x100 + key.cacheFlags;
}
