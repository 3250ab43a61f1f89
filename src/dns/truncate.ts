/**
 * Fitting a UDP reply to what the client can take (its EDNS size, or 512 bytes): keep the
 * header, the question and as many whole answer records as fit, keep the OPT record, set TC.
 * Clients then retry over TCP; a reply cut mid-record would be unparsable (musl, Ruby).
 */
import { RecordCursor } from './record-cursor.js';
import { HEADER, QType, TC, u16 } from './wire.js';

/** Offsets of each RR in a message and the section it is in, or undefined if it does not parse. */
interface Layout {
  questionEnd: number;
  /** [start, end) of every RR, in order; section 0 answer, 1 authority, 2 additional. */
  records: { start: number; end: number; section: number; type: number }[];
}

const cursor = new RecordCursor();

/** The layout of the message in `msg[start, end)`; offsets are absolute (into `msg`). */
export function layout(msg: Buffer, start = 0, end = msg.length): Layout | undefined {
  if (!cursor.reset(msg, start, end)) return undefined;
  const records: Layout['records'] = [];
  while (cursor.next()) records.push({ start: cursor.start, end: cursor.end, section: cursor.section, type: cursor.type });
  return cursor.malformed ? undefined : { questionEnd: cursor.questionEnd, records };
}

/**
 * Cuts the reply in `buf[start, start + length)` to at most `limit` bytes where it lies (the
 * kept bytes only move towards the start) and returns its new length; `length` when it fits.
 */
export function truncateInPlace(buf: Buffer, start: number, length: number, limit: number): number {
  if (length <= limit) return length;
  const lay = layout(buf, start, start + length);
  const flags = u16(buf, start + 2) | TC;
  if (lay === undefined) {
    // Unparsable: the bare header with TC tells the client to ask over TCP.
    buf.writeUInt16BE(flags, start + 2);
    buf.fill(0, start + 4, start + HEADER);
    return HEADER;
  }
  const opt = lay.records.find((r) => r.section === 2 && r.type === QType.OPT);
  const optLen = opt === undefined ? 0 : opt.end - opt.start;
  const room = start + limit - optLen;
  let end = start + HEADER;
  let kept = 0;
  // Not even the question fits (a 255-byte name in a tiny limit): header only.
  if (lay.questionEnd <= room) {
    end = lay.questionEnd;
    for (const r of lay.records) {
      if (r.section !== 0 || r.end > room) break;
      end = r.end;
      kept += 1;
    }
  }
  if (opt !== undefined) buf.copyWithin(end, opt.start, opt.end);
  buf.writeUInt16BE(flags, start + 2);
  buf.writeUInt16BE(end === start + HEADER ? 0 : u16(buf, start + 4), start + 4);
  buf.writeUInt16BE(kept, start + 6);
  buf.writeUInt16BE(0, start + 8);
  buf.writeUInt16BE(opt === undefined ? 0 : 1, start + 10);
  return end - start + optLen;
}

/** `reply` unchanged when it fits in `limit` bytes, else a truncated copy with TC=1. */
export function fitReply(reply: Buffer, limit: number): Buffer {
  if (reply.length <= limit) return reply;
  const copy = Buffer.from(reply);
  return copy.subarray(0, truncateInPlace(copy, 0, copy.length, limit));
}
