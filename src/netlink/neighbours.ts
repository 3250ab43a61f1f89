/**
 * Neighbours (ARP, AF_INET) and forwarding-database entries (AF_BRIDGE, NTF_SELF) on one device.
 * Dumps are filtered by the kernel to that device, so their cost follows our table, not the host's.
 */
import { AttrStream, FlagsNew, rt } from 'netlink';
import { AF_BRIDGE, AF_INET, bufferToIp, bufferToMac, ipv4ToBuffer, macToBuffer, u32 } from './codec.js';
import type { RtSocket } from './socket.js';

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
  const msgs = await s.dump(`dump neighbours on ${dev.name}`, rt.MessageType.GETNEIGH, out.bufs);
  const result: Neighbour[] = [];
  for (const m of msgs) {
    if (m.kind !== 'neighbor' || m.data.family !== AF_INET || m.data.ifindex !== dev.index) continue;
    const ip = bufferToIp(m.attrs.dst);
    if (ip === undefined) continue;
    const mac = bufferToMac(m.attrs.lladdr);
    result.push({ ip, permanent: m.data.state?.permanent === true, ...(mac === undefined ? {} : { mac }) });
  }
  return result;
}

export async function listFdb(s: RtSocket, dev: Device): Promise<FdbEntry[]> {
  // The legacy (non-strict) FDB dump filters by port only when the header is an ifinfomsg.
  const header = rt.formatLink({ family: AF_BRIDGE, index: dev.index });
  const msgs = await s.dump(`dump fdb on ${dev.name}`, rt.MessageType.GETNEIGH, [header]);
  const result: FdbEntry[] = [];
  for (const m of msgs) {
    if (m.kind !== 'neighbor' || m.data.family !== AF_BRIDGE || m.data.ifindex !== dev.index || m.data.flags?.self !== true) continue;
    const mac = bufferToMac(m.attrs.lladdr);
    if (mac === undefined) continue;
    const dst = bufferToIp(m.attrs.dst);
    result.push({ mac, permanent: m.data.state?.permanent === true, ...(dst === undefined ? {} : { dst }) });
  }
  return result;
}

export function setNeighbour(s: RtSocket, dev: Device, n: { ip: string; mac: string }): Promise<unknown> {
  return s.request(`neighbour ${n.ip} lladdr ${n.mac} on ${dev.name}`, (sock, o) =>
    sock.newNeighbor({ family: AF_INET, ifindex: dev.index, state: { permanent: true } }, { dst: ipv4ToBuffer(n.ip), lladdr: macToBuffer(n.mac) }, { ...o, flags: FlagsNew.CREATE | FlagsNew.REPLACE }),
  );
}

export function deleteNeighbour(s: RtSocket, dev: Device, n: { ip: string }): Promise<unknown> {
  return s.request(`delete neighbour ${n.ip} on ${dev.name}`, (sock, o) => sock.delNeighbor({ family: AF_INET, ifindex: dev.index }, { dst: ipv4ToBuffer(n.ip) }, o));
}

/** `bridge fdb replace MAC dev DEV dst IP self permanent`: one remote per MAC. */
export function setFdb(s: RtSocket, dev: Device, e: { mac: string; dst: string }): Promise<unknown> {
  return s.request(`fdb ${e.mac} dst ${e.dst} on ${dev.name}`, (sock, o) =>
    sock.newNeighbor(
      { family: AF_BRIDGE, ifindex: dev.index, state: { permanent: true }, flags: { self: true } },
      { dst: ipv4ToBuffer(e.dst), lladdr: macToBuffer(e.mac) },
      { ...o, flags: FlagsNew.CREATE | FlagsNew.REPLACE },
    ),
  );
}

export function deleteFdb(s: RtSocket, dev: Device, e: { mac: string; dst?: string }): Promise<unknown> {
  const attrs: rt.NeighborAttrs = { lladdr: macToBuffer(e.mac) };
  if (e.dst !== undefined) attrs.dst = ipv4ToBuffer(e.dst);
  return s.request(`delete fdb ${e.mac}${e.dst === undefined ? '' : ` dst ${e.dst}`} on ${dev.name}`, (sock, o) =>
    sock.delNeighbor({ family: AF_BRIDGE, ifindex: dev.index, flags: { self: true } }, attrs, o),
  );
}
