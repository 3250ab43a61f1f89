/**
 * Hand-written encoders for the three messages the overlay sends by the thousand (neighbour, FDB
 * entry, route) and for netlink headers. The package's generic formatter is correct but slow on
 * a cold start (programming 5000 peers once is exactly that case); these write each message
 * straight into the one zeroed buffer of its datagram, with no buffer per message or attribute.
 * Layouts: struct ndmsg / rtmsg / nlattr from <linux/neighbour.h>, <linux/rtnetlink.h>,
 * <linux/netlink.h>; host byte order (x86/arm little-endian), addresses in network order.
 */
import { writeMac } from './codec.js';

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

export const align4 = (n: number): number => (n + 3) & ~3;

/** An IPv4 attribute (8 bytes) and a MAC attribute (10, padded to 12). */
const IPV4_ATTR = 8;
const MAC_ATTR = 12;
const U32_ATTR = 8;

function attrHeader(buf: Buffer, at: number, len: number, type: number): void {
  buf.writeUInt16LE(len, at);
  buf.writeUInt16LE(type, at + 2);
}

function attrIpv4(buf: Buffer, at: number, type: number, ip: number): number {
  attrHeader(buf, at, 8, type);
  buf.writeUInt32BE(ip, at + 4);
  return at + IPV4_ATTR;
}

function attrU32(buf: Buffer, at: number, type: number, value: number): number {
  attrHeader(buf, at, 8, type);
  buf.writeUInt32LE(value >>> 0, at + 4);
  return at + U32_ATTR;
}

function attrMac(buf: Buffer, at: number, type: number, mac: number): number {
  attrHeader(buf, at, 10, type);
  writeMac(buf, at + 4, mac);
  return at + MAC_ATTR;
}

export interface NdmsgFields {
  family: number;
  ifindex: number;
  state: number;
  flags: number;
}

/** Body length of a neighbour message with the attributes given. */
export function neighbourLength(dst: number | undefined, mac: number | undefined): number {
  return NDMSG_LEN + (dst === undefined ? 0 : IPV4_ATTR) + (mac === undefined ? 0 : MAC_ATTR);
}

/** ndmsg, then NDA_DST and NDA_LLADDR when given, at `at` of a zeroed buffer. */
export function writeNeighbour(buf: Buffer, at: number, nd: NdmsgFields, dst: number | undefined, mac: number | undefined): void {
  buf.writeUInt8(nd.family, at);
  buf.writeInt32LE(nd.ifindex, at + 4);
  buf.writeUInt16LE(nd.state, at + 8);
  buf.writeUInt8(nd.flags, at + 10);
  let a = at + NDMSG_LEN;
  if (dst !== undefined) a = attrIpv4(buf, a, NDA_DST, dst);
  if (mac !== undefined) attrMac(buf, a, NDA_LLADDR, mac);
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

/** Body length of a route message: RTA_TABLE, RTA_DST, RTA_GATEWAY when given, RTA_OIF. */
export function routeLength(gateway: number | undefined): number {
  return RTMSG_LEN + U32_ATTR + IPV4_ATTR + (gateway === undefined ? 0 : IPV4_ATTR) + U32_ATTR;
}

export function writeRoute(buf: Buffer, at: number, r: RtmsgFields, dst: number, gateway: number | undefined, oif: number): void {
  buf.writeUInt8(r.family, at);
  buf.writeUInt8(r.dstLen, at + 1);
  buf.writeUInt8(r.table, at + 4);
  buf.writeUInt8(r.protocol, at + 5);
  buf.writeUInt8(r.scope, at + 6);
  buf.writeUInt8(r.type, at + 7);
  buf.writeUInt32LE(r.flags, at + 8);
  let a = attrU32(buf, at + RTMSG_LEN, RTA_TABLE, r.table);
  a = attrIpv4(buf, a, RTA_DST, dst);
  if (gateway !== undefined) a = attrIpv4(buf, a, RTA_GATEWAY, gateway);
  attrU32(buf, a, RTA_OIF, oif);
}

/** The netlink header of a message of `len` bytes (header included) at `at`. */
export function writeHeader(buf: Buffer, at: number, len: number, type: number, flags: number, seq: number, port: number): void {
  buf.writeUInt32LE(len, at);
  buf.writeUInt16LE(type, at + 4);
  buf.writeUInt16LE(flags, at + 6);
  buf.writeUInt32LE(seq >>> 0, at + 8);
  buf.writeUInt32LE(port >>> 0, at + 12);
}
