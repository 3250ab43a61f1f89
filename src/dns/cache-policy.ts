/**
 * How long a forwarded reply may be cached (pure). Positive answers: the smallest answer TTL,
 * capped by maxTTL. Negative answers (NXDOMAIN, or NOERROR with no answer): RFC 2308 — the SOA
 * record's TTL bounded by its MINIMUM field, capped by negativeTTL; without a SOA, not cached.
 * Errors, truncated replies and TTL 0 are never cached.
 */
import { layout } from './truncate.js';
import { QType, Rcode, TC, skipName, u16 } from './wire.js';

export interface CachePolicy {
  maxTTL: number;
  negativeTTL: number;
}

export interface Cacheable {
  /** Seconds the entry lives. */
  ttl: number;
  /** Offsets of the TTL field of every record except OPT (patched on each hit). */
  ttlOffsets: number[];
  negative: boolean;
}

export function cacheability(reply: Buffer, policy: CachePolicy): Cacheable | undefined {
  if (reply.length < 12 || (u16(reply, 2) & TC) !== 0) return undefined;
  const rcode = reply[3]! & 0xf;
  if (rcode !== Rcode.NoError && rcode !== Rcode.NxDomain) return undefined;
  const lay = layout(reply);
  if (lay === undefined) return undefined;
  const ttlOffsets: number[] = [];
  let answerMin = Infinity;
  let answers = 0;
  let soaTtl = Infinity;
  for (const r of lay.records) {
    if (r.type === QType.OPT) continue;
    const typeAt = skipName(reply, r.start);
    const ttl = reply.readUInt32BE(typeAt + 4);
    ttlOffsets.push(typeAt + 4);
    if (r.section === 0) {
      answers += 1;
      answerMin = Math.min(answerMin, ttl);
    } else if (r.section === 1 && r.type === QType.SOA) {
      // MINIMUM is the last 4 bytes of the SOA RDATA.
      soaTtl = Math.min(soaTtl, ttl, reply.readUInt32BE(r.end - 4));
    }
  }
  const negative = rcode === Rcode.NxDomain || answers === 0;
  if (negative && soaTtl === Infinity) return undefined;
  const ttl = negative ? Math.min(soaTtl, policy.negativeTTL) : Math.min(answerMin, policy.maxTTL);
  if (!Number.isFinite(ttl) || ttl <= 0) return undefined;
  return { ttl, ttlOffsets, negative };
}
