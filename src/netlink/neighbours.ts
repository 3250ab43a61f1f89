/**
 * Neighbours (ARP, AF_INET) and forwarding-database entries (AF_BRIDGE, NTF_SELF) on one device.
 * Dumps are filtered by the kernel to that device, so their cost follows our table, not the host's.
 */
import { AttrStream, FlagsNew, rt } from 'netlink';
import { AF_BRIDGE, AF_INET, ipv4ToBuffer, macToBuffer, u32 } from './codec.js';
import { decodeNeighbour } from './decode.js';
import { NDA_DST, NDA_LLADDR, NTF_SELF, NUD_PERMANENT, encodeNeighbour, type Attr, type NdmsgFields } from './encode.js';
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

function neighbourBody(nd: NdmsgFields, dst: string | undefined, mac: string | undefined): Uint8Array[] {
  const attrs: Attr[] = [];
  if (dst !== undefined) attrs.push({ type: NDA_DST, data: ipv4ToBuffer(dst) });
  if (mac !== undefined) attrs.push({ type: NDA_LLADDR, data: macToBuffer(mac) });
  return [encodeNeighbour(nd, attrs)];
}

/** `ip neigh replace IP lladdr MAC dev DEV nud permanent`. */
export function neighbourSet(dev: Device, n: { ip: string; mac: string }): WriteRequest {
  return {
    what: () => `neighbour ${n.ip} lladdr ${n.mac} on ${dev.name}`,
    type: rt.MessageType.NEWNEIGH,
    flags: FlagsNew.CREATE | FlagsNew.REPLACE,
    body: neighbourBody({ family: AF_INET, ifindex: dev.index, state: NUD_PERMANENT, flags: 0 }, n.ip, n.mac),
  };
}

export function neighbourDelete(dev: Device, n: { ip: string }): WriteRequest {
  return {
    what: () => `delete neighbour ${n.ip} on ${dev.name}`,
    type: rt.MessageType.DELNEIGH,
    flags: 0,
    body: neighbourBody({ family: AF_INET, ifindex: dev.index, state: 0, flags: 0 }, n.ip, undefined),
  };
}

/** `bridge fdb replace MAC dev DEV dst IP self permanent`: one remote per MAC. */
export function fdbSet(dev: Device, e: { mac: string; dst: string }): WriteRequest {
  return {
    what: () => `fdb ${e.mac} dst ${e.dst} on ${dev.name}`,
    type: rt.MessageType.NEWNEIGH,
    flags: FlagsNew.CREATE | FlagsNew.REPLACE,
    body: neighbourBody({ family: AF_BRIDGE, ifindex: dev.index, state: NUD_PERMANENT, flags: NTF_SELF }, e.dst, e.mac),
  };
}

export function fdbDelete(dev: Device, e: { mac: string; dst?: string }): WriteRequest {
  return {
    what: () => `delete fdb ${e.mac}${e.dst === undefined ? '' : ` dst ${e.dst}`} on ${dev.name}`,
    type: rt.MessageType.DELNEIGH,
    flags: 0,
    body: neighbourBody({ family: AF_BRIDGE, ifindex: dev.index, state: 0, flags: NTF_SELF }, e.dst, e.mac),
  };
}
