/**
 * Pre-encoded answers for names the agent owns. Every record's owner is a compression pointer
 * to the question (offset 12), so one block serves any casing of the name and any wildcard
 * match: a reply is header + the client's question + this block, with nothing encoded per query.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AA, CLASS_IN, HEADER, OPT_LEN, OUR_EDNS_SIZE, QR, QType, RA, RD, Rcode, copyBytes, emptyReplyLength, writeEmptyReply, writeOpt, writeReplyHeader, type Query } from './wire.js';

export interface RrBlock {
  count: number;
  bytes: Buffer;
}

/** What a name the agent owns answers: A, AAAA, and both for ANY. */
export interface RecordSet {
  a: RrBlock;
  aaaa: RrBlock;
  any: RrBlock;
  /** The addresses, for status and tests. */
  addresses: readonly string[];
}

export function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const parse = (part: string): string[] => (part === '' ? [] : part.split(':'));
  let groups = parse(head);
  let tailGroups = tail === undefined ? [] : parse(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const fixV4 = (list: string[]): string[] => {
    const last = list[list.length - 1];
    if (last === undefined || !last.includes('.')) return list;
    const o = last.split('.').map(Number);
    return [...list.slice(0, -1), (((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16), (((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)];
  };
  if (tail === undefined) groups = fixV4(groups);
  else tailGroups = fixV4(tailGroups);
  const fill = 8 - groups.length - tailGroups.length;
  const all = [...groups, ...Array<string>(Math.max(fill, 0)).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  all.slice(0, 8).forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2));
  return out;
}

function rr(type: number, ttl: number, rdata: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + rdata.length);
  out.writeUInt16BE(0xc000 | HEADER, 0);
  out.writeUInt16BE(type, 2);
  out.writeUInt16BE(CLASS_IN, 4);
  out.writeUInt32BE(ttl >>> 0, 6);
  out.writeUInt16BE(rdata.length, 10);
  rdata.copy(out, 12);
  return out;
}

export function buildRecordSet(addresses: readonly string[], ttl: number): RecordSet {
  const unique = [...new Set(addresses)];
  const v4 = unique.filter((a) => isIPv4(a)).map((a) => rr(QType.A, ttl, Buffer.from(a.split('.').map(Number))));
  const v6 = unique.filter((a) => isIPv6(a)).map((a) => rr(QType.AAAA, ttl, ipv6Bytes(a)));
  const block = (list: Buffer[]): RrBlock => ({ count: list.length, bytes: Buffer.concat(list) });
  return { a: block(v4), aaaa: block(v6), any: block([...v4, ...v6]), addresses: unique };
}

/** The block answering `qtype` (class IN only); undefined means NODATA for this owned name. */
export function blockFor(set: RecordSet, qtype: number, qclass: number): RrBlock | undefined {
  if (qclass !== CLASS_IN && qclass !== 255) return undefined;
  if (qtype === QType.A) return set.a;
  if (qtype === QType.AAAA) return set.aaaa;
  if (qtype === QType.ANY) return set.any;
  return undefined;
}

/** Bytes the reply for an owned name takes. */
export function localReplyLength(query: Query, block: RrBlock | undefined): number {
  if (block === undefined || block.count === 0) return emptyReplyLength(query.questionEnd, query.edns);
  return query.questionEnd + block.bytes.length + (query.edns ? OPT_LEN : 0);
}

/**
 * Writes an authoritative reply for an owned name at `out[at]` (the query is `packet[start, ...)`,
 * `out` needs localReplyLength() bytes): the answer block, or NOERROR with no answer (NODATA) when
 * the name has no record of the asked type — never NXDOMAIN, which would tell the client the name
 * does not exist at all (Istio #31250). Returns the length.
 */
export function writeLocalReply(out: Buffer, at: number, packet: Buffer, start: number, query: Query, block: RrBlock | undefined): number {
  const qEnd = query.questionEnd;
  if (block === undefined || block.count === 0) return writeEmptyReply(out, at, packet, start, qEnd, Rcode.NoError, query.edns, AA);
  copyBytes(packet, start, start + qEnd, out, at);
  writeReplyHeader(out, at, QR | AA | RA | (query.flags & RD), 1, block.count, query.edns);
  block.bytes.copy(out, at + qEnd);
  if (query.edns) writeOpt(out, at + qEnd + block.bytes.length, OUR_EDNS_SIZE, false);
  return localReplyLength(query, block);
}

/** writeLocalReply() into a new buffer, for a query at offset 0 of `packet`. */
export function localReply(packet: Buffer, query: Query, block: RrBlock | undefined): Buffer {
  const out = Buffer.allocUnsafe(localReplyLength(query, block));
  writeLocalReply(out, 0, packet, 0, query, block);
  return out;
}
