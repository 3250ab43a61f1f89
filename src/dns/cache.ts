/**
 * Wire-level cache of forwarded replies: bounded, approximately least-recently-used eviction
 * (second chance: a hit only sets a flag, so the hot path never mutates the Map — moving an entry
 * on every hit leaves tombstones that make V8 rehash the table in bursts). Keyed by the
 * lowercase name, type, class and the EDNS/DO/CD flags (a reply for an EDNS client carries an OPT
 * record a plain client must not get). A hit is the stored bytes with the client's ID and
 * question (its own letter case) patched in and every TTL reduced by the entry's age.
 */
import { cacheability, type CachePolicy } from './cache-policy.js';
import { HEADER, cacheKey, copyBytes, type Query } from './wire.js';

interface Entry {
  reply: Buffer;
  storedAt: number;
  ttl: number;
  ttlOffsets: number[];
  originalTtls: number[];
  negative: boolean;
  /** Read since it was last considered for eviction. */
  used: boolean;
}

/** Replies larger than this are not kept, so the cache's memory stays bounded by size × this. */
export const MAX_CACHED_REPLY = 4096;

export class DnsCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(
    private maxEntries: number,
    private policy: CachePolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Name, type, class and EDNS/DO/CD flags of the query in `packet[start, ...)` (see wire.ts cacheKey). */
  static key(packet: Buffer, start: number, query: Query): string {
    return cacheKey(packet, start, query);
  }

  configure(maxEntries: number, policy: CachePolicy): void {
    this.maxEntries = maxEntries;
    this.policy = policy;
    while (this.entries.size > maxEntries) this.evictOldest();
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Writes the cached reply for the query in `packet[start, ...)` at `out[at]` and returns its
   * length, or -1 on a miss. `out` needs MAX_CACHED_REPLY bytes of room.
   */
  getInto(key: string, packet: Buffer, start: number, query: Query, out: Buffer, at: number): number {
    if (this.maxEntries === 0) return -1;
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses += 1;
      return -1;
    }
    const age = Math.floor((this.now() - entry.storedAt) / 1000);
    if (age >= entry.ttl) {
      this.entries.delete(key);
      this.misses += 1;
      return -1;
    }
    entry.used = true;
    this.hits += 1;
    const reply = entry.reply;
    reply.copy(out, at);
    out[at] = packet[start]!;
    out[at + 1] = packet[start + 1]!;
    // Same name modulo case, so same length: the client sees its own spelling back.
    copyBytes(packet, start + HEADER, start + query.questionEnd, out, at + HEADER);
    const left = entry.ttl - age;
    const offsets = entry.ttlOffsets;
    for (let i = 0; i < offsets.length; i++) {
      out.writeUInt32BE(Math.min(Math.max(entry.originalTtls[i]! - age, 0), left), at + offsets[i]!);
    }
    return reply.length;
  }

  put(key: string, reply: Buffer): void {
    if (this.maxEntries === 0 || reply.length > MAX_CACHED_REPLY) return;
    const c = cacheability(reply, this.policy);
    if (c === undefined) return;
    // Kept as is, not copied: nothing writes to a reply once it is answered, and a small copy would
    // pin a shared 8 KiB pool slab for as long as the entry lives.
    const stored = reply;
    const entry: Entry = {
      reply: stored,
      storedAt: this.now(),
      ttl: c.ttl,
      ttlOffsets: c.ttlOffsets,
      originalTtls: c.ttlOffsets.map((o) => stored.readUInt32BE(o)),
      negative: c.negative,
      used: false,
    };
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) this.evictOldest();
  }

  /** Evicts the oldest entry not read since it was last passed over; read ones move to the back once. */
  private evictOldest(): void {
    for (let guard = this.entries.size; guard >= 0; guard--) {
      const oldest = this.entries.entries().next();
      if (oldest.done === true) return;
      const [key, entry] = oldest.value;
      this.entries.delete(key);
      if (entry.used && guard > 0) {
        entry.used = false;
        this.entries.set(key, entry);
        continue;
      }
      this.evictions += 1;
      return;
    }
  }
}
