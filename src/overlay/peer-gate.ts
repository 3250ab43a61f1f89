/**
 * The gate every peer passes before the planner (pure, no I/O), whatever its source (flannel's
 * etcd registry, the static table, a Kubernetes registry): a record written by another host must
 * never make this VM route its own LAN, another host's traffic or anything outside the overlay
 * through flannel.1, nor re-point an honest peer's entries. Candidates and the local facts go
 * in; accepted peers and refusals (source, key, reason) come out. The result depends only on the
 * inputs, not on their order: claims on one subnet, VTEP MAC or public IP go to the earliest
 * candidate (source precedence, then `order`, e.g. the etcd create revision, then key).
 */
import { ipv4ToInt } from '../net/cidr.js';
import type { NetworkBounds } from '../registry/peer-source.js';
import { RangeSet, macProblem, rangeOf, rangesOf, unicastProblem, type Range } from './ipv4-ranges.js';
import { parseSubnet, type Subnet } from './subnet.js';

/** One peer as a source reports it, before any check. */
export interface Candidate {
  source: string;
  /** Where the source keeps it: an etcd key, `overlay.peers[2]`, a Node name. */
  key: string;
  subnet: string;
  publicIP: string;
  vtepMAC: string;
  /** Earlier claims win: the etcd create revision, the index in config. */
  order: number;
  /** The record's version (etcd mod revision): a refusal is logged once per revision. */
  revision?: string;
  /** Set when the source could not read the record (why); such a candidate is refused. */
  invalid?: string;
}

/** What this host knows about itself; the kernel-side facts are empty where unknown (check-config). */
export interface LocalFacts {
  network?: NetworkBounds;
  ownSubnet?: string;
  /** This host's VTEP MAC. */
  ownMAC?: string;
  /** This host's IPv4 addresses (the overlay device's may be left out: it lies in ownSubnet). */
  addresses: readonly string[];
  /** Networks of this host's interface addresses (CIDR), the overlay device excluded. */
  connected: readonly string[];
  /** Routes of the main table that are not the overlay's (CIDR). */
  foreignRoutes: readonly string[];
}

export const REFUSAL_REASONS = [
  'malformed',
  'not-network-address',
  'outside-network',
  'subnet-length',
  'outside-subnet-range',
  'own-subnet',
  'connected-network',
  'foreign-route',
  'public-ip-class',
  'public-ip-own',
  'public-ip-overlay',
  'mac-class',
  'mac-own',
  'subnet-claimed',
  'mac-claimed',
  'public-ip-claimed',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  source: string;
  key: string;
  subnet: string;
  publicIP: string;
  vtepMAC: string;
  revision?: string;
  reason: RefusalReason;
  /** The field at fault, for config paths. */
  field: 'subnet' | 'publicIP' | 'vtepMAC';
  message: string;
}

/** A candidate that passed: subnet normalized, MAC in lower case, VTEP address derived. */
export interface GatedPeer {
  source: string;
  key: string;
  subnet: string;
  vtep: string;
  publicIP: string;
  vtepMAC: string;
  order: number;
  revision?: string;
}

export interface GateResult {
  accepted: GatedPeer[];
  refused: Refusal[];
}

/** The facts turned into what the checks query; build once per fact change (`prepareFacts`). */
export interface PreparedFacts {
  network: (Range & { bounds: NetworkBounds }) | undefined;
  own: Subnet | undefined;
  ownMAC: string;
  addresses: ReadonlySet<string>;
  connected: RangeSet;
  /** Network and broadcast addresses of connected networks: never a remote. */
  edges: ReadonlyMap<number, string>;
  routes: RangeSet;
}

export function prepareFacts(facts: LocalFacts): PreparedFacts {
  const netSubnet = facts.network === undefined ? undefined : parseSubnet(facts.network.network);
  const network = netSubnet === undefined || facts.network === undefined ? undefined : { ...rangeOf(netSubnet), bounds: facts.network };
  const connected = rangesOf(facts.connected);
  const edges = new Map<number, string>();
  for (const c of connected) {
    // A /31 or /32 has no network or broadcast address (RFC 3021).
    if (c.last - c.first < 2) continue;
    edges.set(c.first, `the network address of ${c.label}`);
    edges.set(c.last, `the broadcast address of ${c.label}`);
  }
  // A route that covers the whole overlay (the default route, a wide corporate route) is less
  // specific than any peer's: the peer's route wins for its subnet only, which is the point.
  const routes = rangesOf(facts.foreignRoutes).filter((r) => (network === undefined ? r.last - r.first < 0xffffffff : !(r.first <= network.first && network.last <= r.last)));
  return {
    network,
    own: facts.ownSubnet === undefined ? undefined : parseSubnet(facts.ownSubnet),
    ownMAC: (facts.ownMAC ?? '').toLowerCase(),
    addresses: new Set(facts.addresses),
    connected: new RangeSet(connected),
    edges,
    routes: new RangeSet(routes),
  };
}

export type Passed = { ok: true; peer: GatedPeer; range: Subnet; ip: number };
export type Verdict = Passed | { ok: false; refusal: Refusal };

function refuse(c: Candidate, reason: RefusalReason, field: Refusal['field'], message: string): Verdict {
  return { ok: false, refusal: { source: c.source, key: c.key, subnet: c.subnet, publicIP: c.publicIP, vtepMAC: c.vtepMAC, revision: c.revision, reason, field, message } };
}

/** The checks that need only the candidate and the facts. */
export function checkCandidate(c: Candidate, f: PreparedFacts): Verdict {
  if (c.invalid !== undefined) return refuse(c, 'malformed', 'subnet', c.invalid);
  const s = parseSubnet(c.subnet);
  if (s === undefined) return refuse(c, 'malformed', 'subnet', `${c.subnet} is not an IPv4 subnet (IPv6 is not supported)`);
  if (`${s.network}/${s.prefix}` !== c.subnet) return refuse(c, 'not-network-address', 'subnet', `${c.subnet} is not a network address; write ${s.cidr}`);
  const net = f.network;
  if (net !== undefined) {
    const b = net.bounds;
    if (s.first < net.first || s.last > net.last) return refuse(c, 'outside-network', 'subnet', `${s.cidr} is outside the overlay network ${b.network}`);
    if (b.subnetLen !== undefined && s.prefix !== b.subnetLen) return refuse(c, 'subnet-length', 'subnet', `${s.cidr} is not a /${b.subnetLen} (the network's SubnetLen)`);
    const min = b.subnetMin === undefined ? undefined : ipv4ToInt(b.subnetMin);
    const max = b.subnetMax === undefined ? undefined : ipv4ToInt(b.subnetMax);
    if ((min !== undefined && s.first < min) || (max !== undefined && s.first > max)) {
      return refuse(c, 'outside-subnet-range', 'subnet', `${s.cidr} is outside SubnetMin..SubnetMax (${b.subnetMin ?? '…'}..${b.subnetMax ?? '…'})`);
    }
  }
  if (f.own !== undefined && s.first <= f.own.last && f.own.first <= s.last) {
    return refuse(c, 'own-subnet', 'subnet', s.cidr === f.own.cidr ? `${s.cidr} is this host's own subnet` : `${s.cidr} overlaps this host's subnet ${f.own.cidr}`);
  }
  const lan = f.connected.overlapping(s.first, s.last);
  if (lan !== undefined) return refuse(c, 'connected-network', 'subnet', `${s.cidr} overlaps ${lan.label}, a network this host is connected to`);
  const route = f.routes.overlapping(s.first, s.last);
  if (route !== undefined) return refuse(c, 'foreign-route', 'subnet', `${s.cidr} overlaps the route to ${route.label} on this host, which is not the overlay's`);

  const ipProblem = unicastProblem(c.publicIP);
  if (ipProblem !== undefined) return refuse(c, ipProblem.startsWith('is not') ? 'malformed' : 'public-ip-class', 'publicIP', `publicIP ${c.publicIP} ${ipProblem}`);
  if (f.addresses.has(c.publicIP)) return refuse(c, 'public-ip-own', 'publicIP', `publicIP ${c.publicIP} is an address of this host`);
  const ip = ipv4ToInt(c.publicIP);
  const edge = f.edges.get(ip);
  if (edge !== undefined) return refuse(c, 'public-ip-class', 'publicIP', `publicIP ${c.publicIP} is ${edge}`);
  if ((net !== undefined && ip >= net.first && ip <= net.last) || (f.own !== undefined && ip >= f.own.first && ip <= f.own.last)) {
    return refuse(c, 'public-ip-overlay', 'publicIP', `publicIP ${c.publicIP} is inside the overlay; VXLAN packets to it would loop`);
  }

  const mac = c.vtepMAC.toLowerCase();
  const macWhy = macProblem(mac);
  if (macWhy !== undefined) return refuse(c, macWhy.startsWith('is not') ? 'malformed' : 'mac-class', 'vtepMAC', `vtepMAC ${c.vtepMAC} ${macWhy}`);
  if (mac === f.ownMAC) return refuse(c, 'mac-own', 'vtepMAC', `vtepMAC ${c.vtepMAC} is this host's own VTEP MAC`);
  // One object shape whatever the source sent (absent fields are undefined, not missing).
  const peer: GatedPeer = { source: c.source, key: c.key, subnet: s.cidr, vtep: s.network, publicIP: c.publicIP, vtepMAC: mac, order: c.order, revision: c.revision };
  return { ok: true, peer, range: s, ip };
}

/** Total order of candidates: source precedence, then order, then key (determinism). */
export function compareCandidates(rank: (source: string) => number): (a: { source: string; order: number; key: string }, b: { source: string; order: number; key: string }) => number {
  return (a, b) => rank(a.source) - rank(b.source) || a.order - b.order || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** Gates `candidates` against `facts`; `sources` gives source precedence (earlier wins a claim before any order). */
export function gatePeers(candidates: readonly Candidate[], facts: LocalFacts, sources: readonly string[] = []): GateResult {
  return gatePrepared(candidates, prepareFacts(facts), sources);
}

/** The same with facts prepared once for many calls. */
export function gatePrepared(candidates: readonly Candidate[], facts: PreparedFacts, sources: readonly string[] = []): GateResult {
  const refused: Refusal[] = [];
  const passed: Passed[] = [];
  for (const c of candidates) {
    const v = checkCandidate(c, facts);
    if (v.ok) passed.push(v);
    else refused.push(v.refusal);
  }
  const rank = (source: string): number => {
    const i = sources.indexOf(source);
    return i < 0 ? sources.length : i;
  };
  const cmp = compareCandidates(rank);
  passed.sort((a, b) => cmp(a.peer, b.peer));
  const accepted = claim(passed, refused);
  refused.sort((a, b) => rank(a.source) - rank(b.source) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  return { accepted, refused };
}

/**
 * Claims, earliest first (`passed` sorted with compareCandidates): one host per subnet range, per
 * VTEP MAC, per public IP. The same host reported twice is one peer (the later copy is dropped,
 * not refused). Claims never cross a set of candidates that shares no subnet, MAC or IP with the
 * rest, so this may run on such a set alone (peer-claims.ts does, to stay incremental).
 */
export function claim(passed: readonly Passed[], refused: Refusal[]): GatedPeer[] {
  const accepted: GatedPeer[] = [];
  // Subnets by prefix length, then network address: every overlap is a look-up per length present.
  const byLength = new Map<number, Map<number, GatedPeer>>();
  const byMac = new Map<string, GatedPeer>();
  const byIp = new Map<string, GatedPeer>();
  const sameHost = (a: GatedPeer, b: GatedPeer): boolean => a.subnet === b.subnet && a.publicIP === b.publicIP && a.vtepMAC === b.vtepMAC;
  const of = (p: GatedPeer): string => p.key;
  for (const v of passed) {
    const p = v.peer;
    const holder = subnetHolder(byLength, v.range);
    if (holder !== undefined) {
      // The same host reported twice (two sources, or a dual-stack key): one peer.
      if (!sameHost(holder, p)) refused.push(toRefusal(p, 'subnet-claimed', 'subnet', `${p.subnet} overlaps ${holder.subnet}, claimed earlier by ${of(holder)}`));
      continue;
    }
    const macHolder = byMac.get(p.vtepMAC);
    if (macHolder !== undefined) {
      refused.push(toRefusal(p, 'mac-claimed', 'vtepMAC', `vtepMAC ${p.vtepMAC} is already claimed by ${of(macHolder)} for ${macHolder.subnet}`));
      continue;
    }
    const ipHolder = byIp.get(p.publicIP);
    if (ipHolder !== undefined) {
      refused.push(toRefusal(p, 'public-ip-claimed', 'publicIP', `publicIP ${p.publicIP} is already claimed by ${of(ipHolder)} for ${ipHolder.subnet}`));
      continue;
    }
    let atLength = byLength.get(v.range.prefix);
    if (atLength === undefined) {
      atLength = new Map();
      byLength.set(v.range.prefix, atLength);
    }
    atLength.set(v.range.first, p);
    byMac.set(p.vtepMAC, p);
    byIp.set(p.publicIP, p);
    accepted.push(p);
  }
  return accepted;
}

function subnetHolder(byLength: ReadonlyMap<number, ReadonlyMap<number, GatedPeer>>, s: Subnet): GatedPeer | undefined {
  for (const [len, held] of byLength) {
    if (len <= s.prefix) {
      // A shorter (or equal) held subnet overlaps only if it contains ours.
      const size = 2 ** (32 - len);
      const hit = held.get(Math.floor(s.first / size) * size);
      if (hit !== undefined) return hit;
    } else {
      // A longer held subnet overlaps if it lies inside ours (mixed lengths: static tables only).
      for (const [first, p] of held) if (first >= s.first && first <= s.last) return p;
    }
  }
  return undefined;
}

function toRefusal(p: GatedPeer, reason: RefusalReason, field: Refusal['field'], message: string): Refusal {
  return { source: p.source, key: p.key, subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC, revision: p.revision, reason, field, message };
}
