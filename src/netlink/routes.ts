/** IPv4 routes in the main table: dump, replace (with onlink and protocol), precise delete. */
import { AttrStream, FlagsNew, rt } from 'netlink';
import { AF_INET, RTNH_F_ONLINK, bufferToIp, ipv4ToBuffer } from './codec.js';
import type { Device } from './neighbours.js';
import type { RtSocket } from './socket.js';

export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
const RTPROT_KERNEL = 2;
const RT_SCOPE_NOWHERE = 255;

export interface Route {
  /** CIDR, e.g. 10.234.0.0/24 ("0.0.0.0/0" for the default route). */
  dst: string;
  oif?: number;
  gateway?: string;
  onlink: boolean;
  protocol: number;
  table: number;
  /** Routes the kernel made itself (prefix routes of addresses). */
  kernel: boolean;
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

export function toRoute(m: rt.RouteMessage): Route | undefined {
  if (m.data.family !== AF_INET) return undefined;
  const dstLen = m.data.dstLen ?? 0;
  const dstIp = bufferToIp(m.attrs.dst) ?? '0.0.0.0';
  const protocol = num(typeof m.data.protocol === 'string' ? rt.RouteProtocol[m.data.protocol] : m.data.protocol);
  const route: Route = {
    dst: `${dstIp}/${dstLen}`,
    onlink: ((m.data.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0,
    protocol,
    table: m.attrs.table ?? m.data.table ?? 0,
    kernel: protocol === RTPROT_KERNEL,
  };
  if (m.attrs.oif !== undefined) route.oif = m.attrs.oif;
  const gw = bufferToIp(m.attrs.gateway);
  if (gw !== undefined) route.gateway = gw;
  return route;
}

/** Every IPv4 route in the main table (the non-strict dump cannot filter by device). */
export async function listRoutes(s: RtSocket): Promise<Route[]> {
  const out = new AttrStream();
  rt.formatRouteMessage({ kind: 'route', data: { family: AF_INET, table: RT_TABLE_MAIN }, attrs: {} }, out);
  const msgs = await s.dump('dump routes', rt.MessageType.GETROUTE, out.bufs);
  const result: Route[] = [];
  for (const m of msgs) {
    if (m.kind !== 'route') continue;
    const r = toRoute(m);
    if (r !== undefined && r.table === RT_TABLE_MAIN) result.push(r);
  }
  return result;
}

function splitCidr(cidr: string): [Buffer, number] {
  const [ip = '', len = '32'] = cidr.split('/');
  return [ipv4ToBuffer(ip), Number(len)];
}

/** `ip route replace DST via GW dev DEV onlink proto boot`. */
export function replaceRoute(s: RtSocket, dev: Device, r: { dst: string; gateway: string }): Promise<unknown> {
  const [dst, dstLen] = splitCidr(r.dst);
  return s.request(`route ${r.dst} via ${r.gateway} on ${dev.name}`, (sock, o) =>
    sock.newRoute(
      { family: AF_INET, dstLen, table: RT_TABLE_MAIN, protocol: RTPROT_BOOT, scope: rt.RouteScope.UNIVERSE, type: rt.RouteType.UNICAST, flags: { __unknown: RTNH_F_ONLINK } },
      { dst, gateway: ipv4ToBuffer(r.gateway), oif: dev.index, table: RT_TABLE_MAIN },
      { ...o, flags: FlagsNew.CREATE | FlagsNew.REPLACE },
    ),
  );
}

/** Deletes only the route to `dst` through our device, never a same-prefix route elsewhere. */
export function deleteRoute(s: RtSocket, dev: Device, r: { dst: string }): Promise<unknown> {
  const [dst, dstLen] = splitCidr(r.dst);
  return s.request(`delete route ${r.dst} on ${dev.name}`, (sock, o) =>
    sock.delRoute({ family: AF_INET, dstLen, table: RT_TABLE_MAIN, scope: RT_SCOPE_NOWHERE }, { dst, oif: dev.index, table: RT_TABLE_MAIN }, o),
  );
}
