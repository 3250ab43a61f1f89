/**
 * Neighbours (ARP, AF_INET) and forwarding-database entries (AF_BRIDGE, NTF_SELF) on one device.
 * Dumps are filtered by the kernel to that device, so their cost follows our table, not the host's.
 */
import { AttrStream, FlagsNew, rt } from 'netlink';
import { AF_BRIDGE, AF_INET, ipv4ToUint32, macToNumber, u32 } from './codec.js';
import { decodeNeighbour } from './decode.js';
import { NTF_SELF, NUD_PERMANENT, neighbourLength, writeNeighbour, type NdmsgFields } from './encode.js';
import type { RtSocket, WriteRequest } from './socket.js';

export interface Neighbour {
  ip: string;
  mac?: string;
  permanent: boolean;
}

export interface FdbEntry {
  mac: string;
  /** Remote VTEP (NDA_DST); undefined for entries without one. */
  dst?: string;
  permanent: boolean;
}

export interface Device {
  index: number;
  name: string;
}

export async function listNeighbours(s: RtSocket, dev: Device): Promise<Neighbour[]> {
  const out = new AttrStream();
  rt.formatNeighborMessage({ kind: 'neighbor', data: { family: AF_INET }, attrs: { ifindex: u32(dev.index) } }, out);
  const bodies = await s.dumpRaw(`dump neighbours on ${dev.name}`, rt.MessageType.GETNEIGH, out.bufs);
  const result: Neighbour[] = [];
  for (const body of bodies) {
    const n = decodeNeighbour(body);
    if (n?.family !== AF_INET || n.ifindex !== dev.index || n.dst === undefined) continue;
    result.push({ ip: n.dst, permanent: n.permanent, ...(n.mac === undefined ? {} : { mac: n.mac }) });
  }
  return result;
}

export async function listFdb(s: RtSocket, dev: Device): Promise<FdbEntry[]> {
  // The legacy (non-strict) FDB dump filters by port only when the header is an ifinfomsg.
  const header = rt.formatLink({ family: AF_BRIDGE, index: dev.index });
  const bodies = await s.dumpRaw(`dump fdb on ${dev.name}`, rt.MessageType.GETNEIGH, [header]);
  const result: FdbEntry[] = [];
  for (const body of bodies) {
    const n = decodeNeighbour(body);
    if (n?.family !== AF_BRIDGE || n.ifindex !== dev.index || !n.self || n.mac === undefined) continue;
    result.push({ mac: n.mac, permanent: n.permanent, ...(n.dst === undefined ? {} : { dst: n.dst }) });
  }
  return result;
}

/**
 * A neighbour or FDB request. Addresses are parsed here, so a bad one throws when the request is
 * made, never while its datagram is built.
 */
function neighbourRequest(what: () => string, type: rt.MessageType, flags: number, nd: NdmsgFields, dst: string | undefined, mac: string | undefined): WriteRequest {
  const ip = dst === undefined ? undefined : ipv4ToUint32(dst);
  const lladdr = mac === undefined ? undefined : macToNumber(mac);
  return { what, type, flags, size: neighbourLength(ip, lladdr), write: (buf, at) => writeNeighbour(buf, at, nd, ip, lladdr) };
}

/** `ip neigh replace IP lladdr MAC dev DEV nud permanent`. */
export function neighbourSet(dev: Device, n: { ip: string; mac: string }): WriteRequest {
  const nd = { family: AF_INET, ifindex: dev.index, state: NUD_PERMANENT, flags: 0 };
  return neighbourRequest(() => `neighbour ${n.ip} lladdr ${n.mac} on ${dev.name}`, rt.MessageType.NEWNEIGH, FlagsNew.CREATE | FlagsNew.REPLACE, nd, n.ip, n.mac);
}

export function neighbourDelete(dev: Device, n: { ip: string }): WriteRequest {
  const nd = { family: AF_INET, ifindex: dev.index, state: 0, flags: 0 };
  return neighbourRequest(() => `delete neighbour ${n.ip} on ${dev.name}`, rt.MessageType.DELNEIGH, 0, nd, n.ip, undefined);
}

/** `bridge fdb replace MAC dev DEV dst IP self permanent`: one remote per MAC. */
export function fdbSet(dev: Device, e: { mac: string; dst: string }): WriteRequest {
  const nd = { family: AF_BRIDGE, ifindex: dev.index, state: NUD_PERMANENT, flags: NTF_SELF };
  return neighbourRequest(() => `fdb ${e.mac} dst ${e.dst} on ${dev.name}`, rt.MessageType.NEWNEIGH, FlagsNew.CREATE | FlagsNew.REPLACE, nd, e.dst, e.mac);
}

export function fdbDelete(dev: Device, e: { mac: string; dst?: string }): WriteRequest {
  const nd = { family: AF_BRIDGE, ifindex: dev.index, state: 0, flags: NTF_SELF };
  return neighbourRequest(() => `delete fdb ${e.mac}${e.dst === undefined ? '' : ` dst ${e.dst}`} on ${dev.name}`, rt.MessageType.DELNEIGH, 0, nd, e.dst, e.mac);
}
