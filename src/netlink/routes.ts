/** IPv4 routes in the main table: dump, replace (with onlink and protocol), precise delete. */
import { AgentError, ErrorCode } from '../errors.js';
import { AttrStream, FlagsNew, rt } from 'netlink';
import { AF_INET, RTNH_F_ONLINK, bufferToIp, ipv4ToUint32 } from './codec.js';
import { decodeRoute } from './decode.js';
import { routeLength, writeRoute } from './encode.js';
import type { Device } from './neighbours.js';
import type { RtSocket, WriteRequest } from './socket.js';

export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
const RTPROT_KERNEL = 2;
const RT_SCOPE_NOWHERE = 255;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

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
  const bodies = await s.dumpRaw('dump routes', rt.MessageType.GETROUTE, out.bufs);
  const result: Route[] = [];
  for (const body of bodies) {
    const r = decodeRoute(body);
    if (r?.family !== AF_INET || r.table !== RT_TABLE_MAIN) continue;
    const route: Route = { dst: `${r.dst ?? '0.0.0.0'}/${r.dstLen}`, onlink: (r.flags & RTNH_F_ONLINK) !== 0, protocol: r.protocol, table: r.table, kernel: r.protocol === RTPROT_KERNEL };
    if (r.oif !== undefined) route.oif = r.oif;
    if (r.gateway !== undefined) route.gateway = r.gateway;
    result.push(route);
  }
  return result;
}

/** Parsed when the request is made: a bad prefix throws here, never while its datagram is built. */
function splitCidr(cidr: string): [number, number] {
  const slash = cidr.indexOf('/');
  const len = slash < 0 ? 32 : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new AgentError(ErrorCode.UnsafeValue, `not an IPv4 prefix: ${cidr}`);
  return [ipv4ToUint32(slash < 0 ? cidr : cidr.slice(0, slash)), len];
}

/** `ip route replace DST via GW dev DEV onlink proto boot`. */
export function routeReplace(dev: Device, r: { dst: string; gateway: string }): WriteRequest {
  const [dst, dstLen] = splitCidr(r.dst);
  const gateway = ipv4ToUint32(r.gateway);
  const msg = { family: AF_INET, dstLen, table: RT_TABLE_MAIN, protocol: RTPROT_BOOT, scope: RT_SCOPE_UNIVERSE, type: RTN_UNICAST, flags: RTNH_F_ONLINK };
  return {
    what: () => `route ${r.dst} via ${r.gateway} on ${dev.name}`,
    type: rt.MessageType.NEWROUTE,
    flags: FlagsNew.CREATE | FlagsNew.REPLACE,
    size: routeLength(gateway),
    write: (buf, at) => writeRoute(buf, at, msg, dst, gateway, dev.index),
  };
}

/** Deletes only the route to `dst` through our device, never a same-prefix route elsewhere. */
export function routeDelete(dev: Device, r: { dst: string }): WriteRequest {
  const [dst, dstLen] = splitCidr(r.dst);
  const msg = { family: AF_INET, dstLen, table: RT_TABLE_MAIN, protocol: 0, scope: RT_SCOPE_NOWHERE, type: 0, flags: 0 };
  return {
    what: () => `delete route ${r.dst} on ${dev.name}`,
    type: rt.MessageType.DELROUTE,
    flags: 0,
    size: routeLength(undefined),
    write: (buf, at) => writeRoute(buf, at, msg, dst, undefined, dev.index),
  };
}
