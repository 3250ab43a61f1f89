/**
 * Fitting a UDP reply to what the client can take (its EDNS size, or 512 bytes): keep the
 * header, the question and as many whole answer records as fit, keep the OPT record, set TC.
 * Clients then retry over TCP; a reply cut mid-record would be unparsable (musl, Ruby).
 */
import { HEADER, QType, TC, skipName, u16 } from './wire.js';

/** Offsets of each RR in a message and the section it is in, or undefined if it does not parse. */
interface Layout {
  questionEnd: number;
  /** [start, end) of every RR, in order; section 0 answer, 1 authority, 2 additional. */
  records: { start: number; end: number; section: number; type: number }[];
}

export function layout(msg: Buffer): Layout | undefined {
  if (msg.length < HEADER) return undefined;
  const counts = [u16(msg, 6), u16(msg, 8), u16(msg, 10)];
  let off = HEADER;
  for (let i = u16(msg, 4); i > 0; i--) {
    off = skipName(msg, off);
    if (off < 0 || off + 4 > msg.length) return undefined;
    off += 4;
  }
  const questionEnd = off;
  const records: Layout['records'] = [];
  for (let section = 0; section < 3; section++) {
    for (let i = counts[section]!; i > 0; i--) {
      const start = off;
      const rr = skipName(msg, off);
      if (rr < 0 || rr + 10 > msg.length) return undefined;
      const end = rr + 10 + u16(msg, rr + 8);
      if (end > msg.length) return undefined;
      records.push({ start, end, section, type: u16(msg, rr) });
      off = end;
    }
  }
  return { questionEnd, records };
}

/** `reply` unchanged when it fits in `limit` bytes, else a truncated copy with TC=1. */
export function fitReply(reply: Buffer, limit: number): Buffer {
  if (reply.length <= limit) return reply;
  const lay = layout(reply);
  if (lay === undefined) {
    // Unparsable: the bare header with TC tells the client to ask over TCP.
    const out = Buffer.from(reply.subarray(0, HEADER));
    out.writeUInt16BE(u16(out, 2) | TC, 2);
    out.fill(0, 4, 12);
    return out;
  }
  const opt = lay.records.find((r) => r.section === 2 && r.type === QType.OPT);
  const optLen = opt === undefined ? 0 : opt.end - opt.start;
  const room = limit - optLen;
  let end = Math.min(lay.questionEnd, room);
  let kept = 0;
  if (lay.questionEnd > room) {
    // Not even the question fits (a 255-byte name in a tiny limit): header only.
    end = HEADER;
  } else {
    for (const r of lay.records) {
      if (r.section !== 0 || r.end > room) break;
      end = r.end;
      kept += 1;
    }
  }
  const out = Buffer.allocUnsafe(end + optLen);
  reply.copy(out, 0, 0, end);
  if (opt !== undefined) reply.copy(out, end, opt.start, opt.end);
  out.writeUInt16BE(u16(reply, 2) | TC, 2);
  out.writeUInt16BE(end === HEADER ? 0 : u16(reply, 4), 4);
  out.writeUInt16BE(kept, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(opt === undefined ? 0 : 1, 10);
  return out;
}

