/**
 * How long a forwarded reply may be cached (pure). Positive answers: the smallest answer TTL,
 * capped by maxTTL. Negative answers (NXDOMAIN, or NOERROR with no answer): RFC 2308 — the SOA
 * record's TTL bounded by its MINIMUM field, capped by negativeTTL; without a SOA, not cached.
 * Errors, truncated replies and TTL 0 are never cached.
 */
import { RecordCursor } from './record-cursor.js';
import { QType, Rcode, TC, u16 } from './wire.js';

export interface CachePolicy {
  maxTTL: number;
  negativeTTL: number;
}

export interface Cacheable {
  /** Seconds the entry lives. */
  ttl: number;
  negative: boolean;
}

const cursor = new RecordCursor();

export function cacheability(reply: Buffer, policy: CachePolicy): Cacheable | undefined {
  if (reply.length < 12 || (u16(reply, 2) & TC) !== 0) return undefined;
  const rcode = reply[3]! & 0xf;
  if (rcode !== Rcode.NoError && rcode !== Rcode.NxDomain) return undefined;
  if (!cursor.reset(reply)) return undefined;
  let answerMin = Infinity;
  let answers = 0;
  let soaTtl = Infinity;
  while (cursor.next()) {
    if (cursor.type === QType.OPT) continue;
    const ttl = reply.readUInt32BE(cursor.ttlAt);
    if (cursor.section === 0) {
      answers += 1;
      answerMin = Math.min(answerMin, ttl);
    } else if (cursor.section === 1 && cursor.type === QType.SOA) {
      // MINIMUM is the last 4 bytes of the SOA RDATA.
      soaTtl = Math.min(soaTtl, ttl, reply.readUInt32BE(cursor.end - 4));
    }
  }
  if (cursor.malformed) return undefined;
  const negative = rcode === Rcode.NxDomain || answers === 0;
  if (negative && soaTtl === Infinity) return undefined;
  const ttl = negative ? Math.min(soaTtl, policy.negativeTTL) : Math.min(answerMin, policy.maxTTL);
  if (!Number.isFinite(ttl) || ttl <= 0) return undefined;
  return { ttl, negative };
}
