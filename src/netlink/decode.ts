/**
 * Hand-written decoders for the dumps a resync reads (neighbours, FDB entries, routes): a
 * no-change resync of thousands of peers is mostly parsing, and the package's generic parser
 * builds an object per attribute. Layouts as in encode.ts.
 */
import { bufferToIp, bufferToMac } from './codec.js';
import { NDA_DST, NDA_LLADDR, NTF_SELF, NUD_PERMANENT, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_TABLE } from './encode.js';

/** Calls `fn(type, start, end)` for each attribute in buf[from..]. */
function eachAttr(buf: Buffer, from: number, fn: (type: number, start: number, end: number) => void): void {
  let at = from;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > buf.length) return;
    fn(buf.readUInt16LE(at + 2) & 0x3fff, at + 4, at + len);
    at += (len + 3) & ~3;
  }
}

export interface RawNeighbour {
  family: number;
  ifindex: number;
  permanent: boolean;
  self: boolean;
  dst?: string;
  mac?: string;
}

export function decodeNeighbour(body: Buffer): RawNeighbour | undefined {
  if (body.length < 12) return undefined;
  const n: RawNeighbour = {
    family: body.readUInt8(0),
    ifindex: body.readInt32LE(4),
    permanent: (body.readUInt16LE(8) & NUD_PERMANENT) !== 0,
    self: (body.readUInt8(10) & NTF_SELF) !== 0,
  };
  eachAttr(body, 12, (type, start, end) => {
    if (type === NDA_DST) {
      const ip = bufferToIp(body.subarray(start, end));
      if (ip !== undefined) n.dst = ip;
    } else if (type === NDA_LLADDR) {
      const mac = bufferToMac(body.subarray(start, end));
      if (mac !== undefined) n.mac = mac;
    }
  });
  return n;
}

export interface RawRoute {
  family: number;
  dstLen: number;
  table: number;
  protocol: number;
  flags: number;
  dst?: string;
  gateway?: string;
  oif?: number;
}

export function decodeRoute(body: Buffer): RawRoute | undefined {
  if (body.length < 12) return undefined;
  const r: RawRoute = {
    family: body.readUInt8(0),
    dstLen: body.readUInt8(1),
    table: body.readUInt8(4),
    protocol: body.readUInt8(5),
    flags: body.readUInt32LE(8),
  };
  eachAttr(body, 12, (type, start, end) => {
    if (type === RTA_DST) r.dst = bufferToIp(body.subarray(start, end)) ?? '';
    else if (type === RTA_GATEWAY) r.gateway = bufferToIp(body.subarray(start, end)) ?? '';
    else if (type === RTA_OIF && end - start >= 4) r.oif = body.readUInt32LE(start);
    else if (type === RTA_TABLE && end - start >= 4) r.table = body.readUInt32LE(start);
  });
  return r;
}
