/**
 * The flannel.<vni> device: created with flannel's attributes (VNI, dst port, local address,
 * underlay link, learning off), MTU = underlay MTU - 50 unless configured, the persisted MAC,
 * the VTEP address subnet.0/32, up. An existing device is kept when compatible and corrected in
 * place (MTU, MAC, up, address); one with a wrong VNI, port, local address, link or learning is
 * re-created.
 */
import { addAddress, deleteAddress, listAddresses } from '../netlink/addresses.js';
import { createVxlan, deleteLink, getLinkByName, setLink, type Link, type LinkChange, type VxlanSpec } from '../netlink/links.js';
import type { RtSocket } from '../netlink/socket.js';
import { AgentError, ErrorCode } from '../errors.js';

export interface DeviceSpec extends VxlanSpec {
  /** The VTEP address: own subnet's network address (as /32). */
  vtep: string;
}

export type DeviceVerdict = { action: 'create' } | { action: 'recreate'; why: string } | { action: 'fix'; change: LinkChange } | { action: 'ok' };

/** Pure: what to do with the device found under our name. */
export function judgeDevice(spec: DeviceSpec, link: Link | undefined): DeviceVerdict {
  if (link === undefined) return { action: 'create' };
  if (link.kind !== 'vxlan' || link.vxlan === undefined) return { action: 'recreate', why: `"${link.name}" is a ${link.kind ?? 'plain'} link, not vxlan` };
  const v = link.vxlan;
  const diffs: string[] = [];
  if (v.vni !== spec.vni) diffs.push(`vni ${v.vni}≠${spec.vni}`);
  if (v.port !== spec.port) diffs.push(`port ${v.port}≠${spec.port}`);
  if (v.local !== spec.local) diffs.push(`local ${v.local ?? 'unset'}≠${spec.local}`);
  if (v.link !== spec.underlayIndex) diffs.push(`link #${v.link}≠#${spec.underlayIndex}`);
  if (v.learning) diffs.push('learning on');
  if (diffs.length > 0) return { action: 'recreate', why: diffs.join(', ') };
  const change: LinkChange = {};
  if (link.mtu !== spec.mtu) change.mtu = spec.mtu;
  if (link.mac !== spec.mac) change.mac = spec.mac;
  if (!link.up) change.up = true;
  return Object.keys(change).length === 0 ? { action: 'ok' } : { action: 'fix', change };
}

export interface EnsureResult {
  link: Link;
  /** What was done, for logs and status ("created", "recreated: vni 2≠1", "fixed mtu"...). */
  actions: string[];
}

export async function ensureDevice(s: RtSocket, spec: DeviceSpec): Promise<EnsureResult> {
  const actions: string[] = [];
  let link = await getLinkByName(s, spec.name);
  const verdict = judgeDevice(spec, link);
  if (verdict.action === 'recreate' && link !== undefined) {
    await deleteLink(s, link);
    actions.push(`recreated (${verdict.why})`);
    link = undefined;
  }
  if (link === undefined) {
    await createVxlan(s, spec);
    if (verdict.action === 'create') actions.push('created');
    link = await getLinkByName(s, spec.name);
    if (link === undefined) throw new AgentError(ErrorCode.NetlinkFailed, `device ${spec.name} vanished right after creation`);
  }
  // The address goes on before the link comes up (flannel's order).
  const dev = link;
  const addrs = (await listAddresses(s)).filter((a) => a.index === dev.index);
  if (!addrs.some((a) => a.address === spec.vtep && a.prefix === 32)) {
    await addAddress(s, spec.name, { index: link.index, address: spec.vtep, prefix: 32 });
    actions.push(`address ${spec.vtep}/32`);
  }
  for (const a of addrs) {
    if (a.address === spec.vtep && a.prefix === 32) continue;
    await deleteAddress(s, spec.name, a);
    actions.push(`removed address ${a.address}/${a.prefix}`);
  }
  const after = judgeDevice(spec, link);
  if (after.action === 'fix') {
    await setLink(s, link, after.change);
    actions.push(`set ${Object.keys(after.change).join(', ')}`);
    link = (await getLinkByName(s, spec.name)) ?? link;
  }
  return { link, actions };
}
