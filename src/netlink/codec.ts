/** Address and MAC conversions between the text users write and the byte buffers rtnetlink carries. */
import { AgentError, ErrorCode } from '../errors.js';

/** Parsed by hand, without allocating: called for every object of every resync. Big-endian value. */
export function ipv4ToUint32(address: string): number {
  let part = 0;
  let value = 0;
  let digits = 0;
  let out = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i < address.length ? address.charCodeAt(i) : 46; // a final '.'
    if (c === 46) {
      if (digits === 0 || value > 255 || part > 3) throw new AgentError(ErrorCode.UnsafeValue, `not an IPv4 address: ${address}`);
      out = out * 256 + value;
      part += 1;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits += 1;
    } else {
      throw new AgentError(ErrorCode.UnsafeValue, `not an IPv4 address: ${address}`);
    }
  }
  if (part !== 4) throw new AgentError(ErrorCode.UnsafeValue, `not an IPv4 address: ${address}`);
  return out;
}

export function ipv4ToBuffer(address: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(ipv4ToUint32(address));
  return out;
}

export function bufferToIp(buf: Buffer | undefined): string | undefined {
  if (buf === undefined) return undefined;
  if (buf.length === 4) return `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}`;
  if (buf.length === 16) {
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(i).toString(16));
    return parts.join(':');
  }
  return undefined;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** A MAC as a 48-bit number (exact in a double), parsed without allocating. */
export function macToNumber(mac: string): number {
  if (mac.length !== 17) throw new AgentError(ErrorCode.UnsafeValue, `not a MAC address: ${mac}`);
  let out = 0;
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(mac.charCodeAt(i * 3));
    const lo = hexDigit(mac.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0 || (i < 5 && mac.charCodeAt(i * 3 + 2) !== 58)) throw new AgentError(ErrorCode.UnsafeValue, `not a MAC address: ${mac}`);
    out = out * 256 + hi * 16 + lo;
  }
  return out;
}

/** Writes a macToNumber value as its 6 bytes. */
export function writeMac(buf: Buffer, at: number, mac: number): void {
  buf.writeUIntBE(mac, at, 6);
}

export function macToBuffer(mac: string): Buffer {
  const out = Buffer.allocUnsafe(6);
  writeMac(out, 0, macToNumber(mac));
  return out;
}

export function bufferToMac(buf: Buffer | undefined): string | undefined {
  if (buf?.length !== 6) return undefined;
  return [...buf].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function u32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(value >>> 0);
  return buf;
}

export function u16be(value: number): Buffer {
  const buf = Buffer.alloc(2);
  buf.writeUInt16BE(value);
  return buf;
}

export const AF_INET = 2;
export const AF_BRIDGE = 7;
/** RTNH_F_ONLINK lives in the low byte of rtm_flags, which the package's typed flags do not name. */
export const RTNH_F_ONLINK = 4;
