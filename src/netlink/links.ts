/** Links: dump, look-up, vxlan create (IFLA_INFO_DATA), up/down, MTU, MAC, delete. */
import { AttrStream, FlagsNew, ifla, parseAttributes, rt } from 'netlink';
import { bufferToIp, bufferToMac, ipv4ToBuffer, macToBuffer, u16be } from './codec.js';
import { NetlinkError, type RtSocket } from './socket.js';

export interface VxlanInfo {
  vni: number;
  /** Underlay ifindex (IFLA_VXLAN_LINK), 0 when unset. */
  link: number;
  local?: string;
  port: number;
  learning: boolean;
}

export interface Link {
  index: number;
  name: string;
  mtu: number;
  mac?: string;
  up: boolean;
  kind?: string;
  vxlan?: VxlanInfo;
}

const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;

function parseLinkInfo(buf: Buffer | undefined): { kind?: string; data?: Buffer } {
  const out: { kind?: string; data?: Buffer } = {};
  if (buf === undefined) return out;
  parseAttributes(buf, (attr) => {
    if (attr.type === IFLA_INFO_KIND) out.kind = attr.data.toString('utf8').replace(/\0+$/, '');
    if (attr.type === IFLA_INFO_DATA) out.data = attr.data;
  });
  return out;
}

export function toLink(msg: rt.LinkMessage): Link {
  const info = parseLinkInfo(msg.attrs.linkinfo);
  const link: Link = {
    index: msg.data.index ?? 0,
    name: msg.attrs.ifname ?? '',
    mtu: msg.attrs.mtu ?? 0,
    up: msg.data.flags?.up === true,
  };
  const mac = bufferToMac(msg.attrs.address);
  if (mac !== undefined) link.mac = mac;
  if (info.kind !== undefined) link.kind = info.kind;
  if (info.kind === 'vxlan' && info.data !== undefined) {
    const v = ifla.parseVxlan(info.data);
    const local = bufferToIp(v.local);
    link.vxlan = {
      vni: v.id ?? 0,
      link: v.link ?? 0,
      port: v.port === undefined ? 0 : v.port.readUInt16BE(0),
      learning: (v.learning ?? 0) !== 0,
      ...(local === undefined ? {} : { local }),
    };
  }
  return link;
}

export async function listLinks(s: RtSocket): Promise<Link[]> {
  const out = new AttrStream();
  rt.formatLinkMessage({ kind: 'link', data: {}, attrs: {} }, out);
  const msgs = await s.dump('dump links', rt.MessageType.GETLINK, out.bufs);
  return msgs.filter((m): m is rt.LinkMessage => m.kind === 'link').map(toLink);
}

/** The link named `name`, or undefined when there is none. */
export async function getLinkByName(s: RtSocket, name: string): Promise<Link | undefined> {
  try {
    const msgs = await s.request(`link ${name}`, (sock, o) => sock.getLink({}, { ifname: name }, o));
    const first = msgs[0];
    return first === undefined ? undefined : toLink(first);
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === 'ENODEV') return undefined;
    throw err;
  }
}

export async function getLinkByIndex(s: RtSocket, index: number): Promise<Link | undefined> {
  try {
    const msgs = await s.request(`link #${index}`, (sock, o) => sock.getLink({ index }, {}, o));
    const first = msgs[0];
    return first === undefined ? undefined : toLink(first);
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === 'ENODEV') return undefined;
    throw err;
  }
}

export interface VxlanSpec {
  name: string;
  vni: number;
  port: number;
  local: string;
  underlayIndex: number;
  mtu: number;
  mac: string;
}

/** Creates the device down, as flannel does: the caller adds the address, then brings it up. */
export async function createVxlan(s: RtSocket, spec: VxlanSpec): Promise<void> {
  const info = new AttrStream();
  info.push(IFLA_INFO_KIND, Buffer.from('vxlan\0'));
  info.push(
    IFLA_INFO_DATA,
    ifla.formatVxlan({ id: spec.vni, link: spec.underlayIndex, local: ipv4ToBuffer(spec.local), port: u16be(spec.port), learning: 0, ttl: 0, tos: 0, proxy: 0, rsc: 0, l2miss: 0, l3miss: 0 }),
  );
  const linkinfo = Buffer.concat(info.bufs);
  await s.request(`create vxlan ${spec.name}`, (sock, o) =>
    sock.newLink({}, { ifname: spec.name, mtu: spec.mtu, address: macToBuffer(spec.mac), linkinfo }, { ...o, flags: FlagsNew.CREATE | FlagsNew.EXCL }),
  );
}

export interface LinkChange {
  up?: boolean;
  mtu?: number;
  mac?: string;
}

export async function setLink(s: RtSocket, link: Pick<Link, 'index' | 'name'>, change: LinkChange): Promise<void> {
  const data: rt.Link = { index: link.index };
  if (change.up !== undefined) {
    data.flags = change.up ? { up: true } : {};
    data.change = { up: true };
  }
  const attrs: ifla.LinkAttrs = {};
  if (change.mtu !== undefined) attrs.mtu = change.mtu;
  if (change.mac !== undefined) attrs.address = macToBuffer(change.mac);
  const what = `set link ${link.name} ${JSON.stringify(change)}`;
  await s.request(what, (sock, o) => sock.setLink(data, attrs, o));
}

export async function deleteLink(s: RtSocket, link: Pick<Link, 'index' | 'name'>): Promise<void> {
  await s.request(`delete link ${link.name}`, (sock, o) => sock.delLink({ index: link.index }, {}, o));
}
