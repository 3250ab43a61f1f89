/**
 * Hand-written encoders for the three messages the overlay sends by the thousand (neighbour, FDB
 * entry, route) and for netlink headers. The package's generic formatter is correct but slow on
 * a cold start (programming 5000 peers once is exactly that case); these write straight into one
 * buffer per message. Layouts: struct ndmsg / rtmsg / nlattr from <linux/neighbour.h>,
 * <linux/rtnetlink.h>, <linux/netlink.h>; host byte order (x86/arm little-endian).
 */
export const NLMSG_HDRLEN = 16;
const NDMSG_LEN = 12;
const RTMSG_LEN = 12;

export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NUD_PERMANENT = 0x80;
export const NTF_SELF = 0x02;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_TABLE = 15;

const align4 = (n: number): number => (n + 3) & ~3;

export interface Attr {
  type: number;
  data: Buffer;
}

function attrsLength(attrs: readonly Attr[]): number {
  let n = 0;
  for (const a of attrs) n += align4(4 + a.data.length);
  return n;
}

function writeAttrs(buf: Buffer, offset: number, attrs: readonly Attr[]): void {
  let at = offset;
  for (const a of attrs) {
    buf.writeUInt16LE(4 + a.data.length, at);
    buf.writeUInt16LE(a.type, at + 2);
    a.data.copy(buf, at + 4);
    at += align4(4 + a.data.length);
  }
}

export interface NdmsgFields {
  family: number;
  ifindex: number;
  state: number;
  flags: number;
}

/** Small zeroed buffers from Node's shared pool: thousands per resync, no ArrayBuffer each. */
function zeroed(size: number): Buffer {
  return Buffer.allocUnsafe(size).fill(0);
}

export function encodeNeighbour(nd: NdmsgFields, attrs: readonly Attr[]): Buffer {
  const buf = zeroed(NDMSG_LEN + attrsLength(attrs));
  buf.writeUInt8(nd.family, 0);
  buf.writeInt32LE(nd.ifindex, 4);
  buf.writeUInt16LE(nd.state, 8);
  buf.writeUInt8(nd.flags, 10);
  writeAttrs(buf, NDMSG_LEN, attrs);
  return buf;
}

export interface RtmsgFields {
  family: number;
  dstLen: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

export function encodeRoute(r: RtmsgFields, attrs: readonly Attr[]): Buffer {
  const buf = zeroed(RTMSG_LEN + attrsLength(attrs));
  buf.writeUInt8(r.family, 0);
  buf.writeUInt8(r.dstLen, 1);
  buf.writeUInt8(r.table, 4);
  buf.writeUInt8(r.protocol, 5);
  buf.writeUInt8(r.scope, 6);
  buf.writeUInt8(r.type, 7);
  buf.writeUInt32LE(r.flags, 8);
  writeAttrs(buf, RTMSG_LEN, attrs);
  return buf;
}

/** Header + body, padded so the next message in the datagram starts aligned. */
export function encodeMessage(type: number, flags: number, seq: number, port: number, body: readonly Uint8Array[]): Buffer {
  let bodyLen = 0;
  for (const b of body) bodyLen += b.length;
  const len = NLMSG_HDRLEN + bodyLen;
  const buf = zeroed(align4(len));
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq >>> 0, 8);
  buf.writeUInt32LE(port >>> 0, 12);
  let at = NLMSG_HDRLEN;
  for (const b of body) {
    buf.set(b, at);
    at += b.length;
  }
  return buf;
}

export function u32le(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}
