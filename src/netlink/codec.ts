/** Address and MAC conversions between the text users write and the byte buffers rtnetlink carries. */
import { isIPv4 } from 'node:net';

export function ipv4ToBuffer(address: string): Buffer {
  if (!isIPv4(address)) throw new TypeError(`not an IPv4 address: ${address}`);
  return Buffer.from(address.split('.').map(Number));
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

export function macToBuffer(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new TypeError(`not a MAC address: ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
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
