/**
 * Walks the resource records of a DNS message without building anything: one cursor is reused
 * for every message, so reading TTLs on a cache hit, rating a reply for the cache or cutting one
 * to size allocates nothing per record.
 */
import { HEADER, skipName, u16 } from './wire.js';

export class RecordCursor {
  /** Of the current record: 0 answer, 1 authority, 2 additional. */
  section = 0;
  /** Offset of the record's owner name. */
  start = 0;
  type = 0;
  /** Offset of the record's 32-bit TTL. */
  ttlAt = 0;
  /** Offset just past the record. */
  end = 0;
  /** Offset just past the question section (after reset). */
  questionEnd = 0;
  /** Set when next() stopped on a record that runs off the message or does not parse. */
  malformed = false;
  private buf: Buffer = Buffer.alloc(0);
  private limit = 0;
  private left0 = 0;
  private left1 = 0;
  private left2 = 0;

  /** Positions before the first record of `buf[start, end)`; false when the header or question does not parse. */
  reset(buf: Buffer, start = 0, end = buf.length): boolean {
    this.buf = buf;
    this.limit = end;
    this.malformed = false;
    if (end - start < HEADER) return this.fail();
    this.left0 = u16(buf, start + 6);
    this.left1 = u16(buf, start + 8);
    this.left2 = u16(buf, start + 10);
    let off = start + HEADER;
    for (let i = u16(buf, start + 4); i > 0; i--) {
      off = skipName(buf, off, end);
      if (off < 0 || off + 4 > end) return this.fail();
      off += 4;
    }
    this.questionEnd = off;
    this.end = off;
    return true;
  }

  /** Moves to the next record; false at the end of the message or when it is malformed (see `malformed`). */
  next(): boolean {
    if (this.left0 > 0) {
      this.left0 -= 1;
      this.section = 0;
    } else if (this.left1 > 0) {
      this.left1 -= 1;
      this.section = 1;
    } else if (this.left2 > 0) {
      this.left2 -= 1;
      this.section = 2;
    } else {
      return false;
    }
    const buf = this.buf;
    const start = this.end;
    const rr = skipName(buf, start, this.limit);
    if (rr < 0 || rr + 10 > this.limit) return this.fail();
    const end = rr + 10 + u16(buf, rr + 8);
    if (end > this.limit) return this.fail();
    this.start = start;
    this.type = u16(buf, rr);
    this.ttlAt = rr + 4;
    this.end = end;
    return true;
  }

  private fail(): false {
    this.malformed = true;
    this.left0 = this.left1 = this.left2 = 0;
    return false;
  }
}
