/**
 * The overlay planner (pure): desired peers against the objects observed on our device give
 * the minimal, ordered operations. Per peer, additions go neighbour, FDB entry, route (flannel's
 * order: the route comes last so the kernel never ARPs for its gateway); removals of stale
 * objects go the other way. Objects that already match produce nothing, so a restart or a
 * no-change resync writes nothing.
 */
import type { FdbEntry, Neighbour } from '../netlink/neighbours.js';
import { RTPROT_BOOT } from '../netlink/routes.js';

/** One peer as the kernel needs it. */
export interface DesiredPeer {
  subnet: string;
  /** Network address of the subnet: remote VTEP address and route gateway. */
  vtep: string;
  publicIP: string;
  vtepMAC: string;
}

export interface ObservedRoute {
  dst: string;
  gateway?: string;
  onlink: boolean;
  protocol: number;
}

/** What is on our device (routes: main table, our oif, not kernel-made). */
export interface Observed {
  neighbours: readonly Neighbour[];
  fdb: readonly FdbEntry[];
  routes: readonly ObservedRoute[];
}

/** Observed objects by key: how the planner reads them (and how the cache keeps them). */
export interface ObservedIndex {
  neighByIp: Map<string, Neighbour>;
  fdbByMac: Map<string, FdbEntry[]>;
  routeByDst: Map<string, ObservedRoute>;
}

export function indexObserved(observed: Observed): ObservedIndex {
  const neighByIp = new Map<string, Neighbour>();
  for (const n of observed.neighbours) neighByIp.set(n.ip, n);
  const fdbByMac = new Map<string, FdbEntry[]>();
  for (const e of observed.fdb) {
    const list = fdbByMac.get(e.mac);
    if (list === undefined) fdbByMac.set(e.mac, [e]);
    else list.push(e);
  }
  const routeByDst = new Map<string, ObservedRoute>();
  for (const r of observed.routes) routeByDst.set(r.dst, r);
  return { neighByIp, fdbByMac, routeByDst };
}

export type Op =
  | { type: 'neigh-set'; ip: string; mac: string }
  | { type: 'fdb-set'; mac: string; dst: string }
  | { type: 'route-set'; dst: string; gateway: string }
  | { type: 'route-del'; dst: string }
  | { type: 'fdb-del'; mac: string; dst?: string }
  | { type: 'neigh-del'; ip: string };

export interface PeerOps {
  subnet: string;
  /** In flannel's order; applied as a unit and rolled back if one fails. */
  ops: Op[];
}

export interface Plan {
  /** Stale objects: routes, then FDB entries, then neighbours. */
  removals: Op[];
  peers: PeerOps[];
}

export function planSize(plan: Plan): number {
  return plan.removals.length + plan.peers.reduce((n, p) => n + p.ops.length, 0);
}

/**
 * The operations one desired peer needs (undefined when it is programmed, the usual case of a
 * resync: nothing is allocated for it); extra remotes of its MAC go to `removals`.
 */
function peerOps(p: DesiredPeer, idx: ObservedIndex, removals: Op[]): Op[] | undefined {
  let ops: Op[] | undefined;
  const n = idx.neighByIp.get(p.vtep);
  if (n === undefined || n.mac !== p.vtepMAC || !n.permanent) ops = [{ type: 'neigh-set', ip: p.vtep, mac: p.vtepMAC }];
  const entries = idx.fdbByMac.get(p.vtepMAC);
  let good = false;
  if (entries !== undefined) for (const e of entries) if (e.dst === p.publicIP && e.permanent) good = true;
  if (!good) {
    // One wrong remote is replaced in place; several are removed first, then the right one added.
    if (entries !== undefined && entries.length > 1) for (const e of entries) removals.push(fdbDel(e));
    (ops ??= []).push({ type: 'fdb-set', mac: p.vtepMAC, dst: p.publicIP });
  } else if (entries !== undefined && entries.length > 1) {
    for (const e of entries) if (e.dst !== p.publicIP) removals.push(fdbDel(e));
  }
  const r = idx.routeByDst.get(p.subnet);
  if (r === undefined || r.gateway !== p.vtep || !r.onlink || r.protocol !== RTPROT_BOOT) (ops ??= []).push({ type: 'route-set', dst: p.subnet, gateway: p.vtep });
  return ops;
}

export interface ChangedPeer {
  subnet: string;
  before?: DesiredPeer;
  after?: DesiredPeer;
}

export interface DesiredIndex {
  /** VTEP address → MAC, MAC → public IP, subnet → peer, over the whole desired set. */
  neighbourMac: ReadonlyMap<string, string>;
  fdbDst: ReadonlyMap<string, string>;
  peers: ReadonlyMap<string, DesiredPeer>;
}

/**
 * The same decisions as `plan`, limited to the subnets that changed (a peer source update):
 * cost follows the change, not the table. Objects of a `before` that no desired peer still
 * wants are removed if the kernel has them.
 */
export function planChanges(changes: readonly ChangedPeer[], desired: DesiredIndex, observed: ObservedIndex): Plan {
  const removals: Op[] = [];
  const peers: PeerOps[] = [];
  for (const c of changes) {
    const b = c.before;
    if (b !== undefined) {
      if (c.after === undefined && !desired.peers.has(b.subnet) && observed.routeByDst.has(b.subnet)) removals.push({ type: 'route-del', dst: b.subnet });
      if (!desired.fdbDst.has(b.vtepMAC)) for (const e of observed.fdbByMac.get(b.vtepMAC) ?? []) if (e.permanent) removals.push(fdbDel(e));
      if (!desired.neighbourMac.has(b.vtep) && observed.neighByIp.get(b.vtep)?.permanent === true) removals.push({ type: 'neigh-del', ip: b.vtep });
    }
    if (c.after !== undefined) {
      const ops = peerOps(c.after, observed, removals);
      if (ops !== undefined) peers.push({ subnet: c.after.subnet, ops });
    }
  }
  removals.sort((a, b) => REMOVAL_ORDER[a.type] - REMOVAL_ORDER[b.type]);
  return { removals, peers };
}

export function plan(desired: Iterable<DesiredPeer>, observed: Observed | ObservedIndex): Plan {
  const idx = 'neighByIp' in observed ? observed : indexObserved(observed);
  const { neighByIp, fdbByMac, routeByDst } = idx;

  const wantNeigh = new Set<string>();
  const wantMac = new Map<string, string>();
  const wantRoute = new Set<string>();
  const removals: Op[] = [];
  const peers: PeerOps[] = [];

  for (const p of desired) {
    wantNeigh.add(p.vtep);
    wantMac.set(p.vtepMAC, p.publicIP);
    wantRoute.add(p.subnet);
    const ops = peerOps(p, idx, removals);
    if (ops !== undefined) peers.push({ subnet: p.subnet, ops });
  }

  for (const r of routeByDst.values()) if (!wantRoute.has(r.dst)) removals.push({ type: 'route-del', dst: r.dst });
  for (const [mac, list] of fdbByMac) if (!wantMac.has(mac)) for (const e of list) if (e.permanent) removals.push(fdbDel(e));
  for (const n of neighByIp.values()) if (!wantNeigh.has(n.ip) && n.permanent) removals.push({ type: 'neigh-del', ip: n.ip });
  removals.sort((a, b) => REMOVAL_ORDER[a.type] - REMOVAL_ORDER[b.type]);
  return { removals, peers };
}

const REMOVAL_ORDER: Record<Op['type'], number> = { 'route-del': 0, 'fdb-del': 1, 'neigh-del': 2, 'neigh-set': 3, 'fdb-set': 4, 'route-set': 5 };

function fdbDel(e: FdbEntry): Op {
  return e.dst === undefined ? { type: 'fdb-del', mac: e.mac } : { type: 'fdb-del', mac: e.mac, dst: e.dst };
}

/** The undo of a successful set, for rollback of a partly applied peer. */
export function undo(op: Op): Op | undefined {
  switch (op.type) {
    case 'neigh-set':
      return { type: 'neigh-del', ip: op.ip };
    case 'fdb-set':
      return { type: 'fdb-del', mac: op.mac, dst: op.dst };
    case 'route-set':
      return { type: 'route-del', dst: op.dst };
    default:
      return undefined;
  }
}

/** What identifies a peer's kernel objects: a changed MAC or public IP is another entry. */
export function peerKey(p: DesiredPeer): string {
  return `peer|${p.subnet}|${p.publicIP}|${p.vtepMAC}`;
}

/** What identifies a removal, for backoff. */
export function removalKey(op: Op): string {
  switch (op.type) {
    case 'route-del':
      return `route|${op.dst}`;
    case 'fdb-del':
      return `fdb|${op.mac}|${op.dst ?? ''}`;
    case 'neigh-del':
      return `neigh|${op.ip}`;
    default:
      return `op|${op.type}`;
  }
}

export interface Restriction {
  /** Remove nothing (a remote source has not listed yet: what is on the device stays). */
  keepAll: boolean;
  /** Peers (by subnet) and removals held back by the kernel-refusal backoff. */
  heldPeer(subnet: string): boolean;
  heldRemoval(op: Op): boolean;
}

/** The plan without what must not be attempted now; `skipped` counts what was left out. */
export function restrictPlan(p: Plan, r: Restriction): Plan & { skipped: number } {
  const removals = r.keepAll ? [] : p.removals.filter((op) => !r.heldRemoval(op));
  const peers = p.peers.filter((x) => !r.heldPeer(x.subnet));
  return { removals, peers, skipped: p.removals.length - removals.length + (p.peers.length - peers.length) };
}
