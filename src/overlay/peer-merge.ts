/**
 * The merged peer set (pure, no I/O): the union of all sources by subnet. When sources disagree
 * on a subnet (different host), the entry already chosen stays (the oldest), otherwise the first
 * source in order wins; the disagreement is reported, never flapped. Peers overlapping our own
 * subnet are dropped and reported. Updates are incremental: a source delivering its full set
 * costs a comparison per peer, and only the subnets whose winner changed are returned.
 */
import type { Peer } from './peer-source.js';
import type { DesiredPeer } from './plan.js';
import { overlaps, parseSubnet, type Subnet } from './subnet.js';

export type MergedPeer = DesiredPeer & { source: string };

export interface Conflict {
  subnet: string;
  kept: { source: string; publicIP: string; vtepMAC: string };
  ignored: { source: string; publicIP: string; vtepMAC: string };
  reason: string;
}

/** A subnet whose chosen peer changed: added (no before), removed (no after) or replaced. */
export interface PeerChange {
  subnet: string;
  before?: MergedPeer;
  after?: MergedPeer;
}

const host = (p: { publicIP: string; vtepMAC: string }): string => `${p.publicIP}|${p.vtepMAC}`;
const brief = (p: MergedPeer): Conflict['kept'] => ({ source: p.source, publicIP: p.publicIP, vtepMAC: p.vtepMAC });

export class PeerSet {
  /** source → raw subnet text → peer as delivered. */
  private readonly raw = new Map<string, Map<string, Peer>>();
  /** subnet → source → candidate. */
  private readonly candidates = new Map<string, Map<string, MergedPeer>>();
  private readonly chosen = new Map<string, MergedPeer>();
  private readonly conflictsBySubnet = new Map<string, Conflict[]>();
  private readonly ownConflicts = new Map<string, Conflict>();
  /** Desired neighbour MAC by VTEP address, desired FDB dst by MAC: for event checks. */
  readonly neighbourMac = new Map<string, string>();
  readonly fdbDst = new Map<string, string>();

  constructor(
    private order: readonly string[],
    private own: Subnet | undefined,
    /** Peers chosen by a previous set (before a reload): still preferred in a conflict. */
    private readonly preferred: ReadonlyMap<string, MergedPeer> = new Map(),
  ) {}

  get peers(): ReadonlyMap<string, MergedPeer> {
    return this.chosen;
  }

  get conflicts(): Conflict[] {
    return [...this.ownConflicts.values(), ...[...this.conflictsBySubnet.values()].flat()];
  }

  /** A source's full current set; returns the subnets whose chosen peer changed. */
  setSource(source: string, peers: readonly Peer[]): PeerChange[] {
    const before = this.raw.get(source) ?? new Map<string, Peer>();
    const after = new Map<string, Peer>();
    for (const p of peers) after.set(p.subnet, p);
    this.raw.set(source, after);
    const touched = new Set<string>();
    for (const [key, p] of after) {
      const old = before.get(key);
      if (old !== undefined && old.publicIP === p.publicIP && old.vtepMAC.toLowerCase() === p.vtepMAC.toLowerCase()) continue;
      if (old !== undefined) touched.add(this.forget(source, old));
      const subnet = this.remember(source, p);
      if (subnet !== undefined) touched.add(subnet);
    }
    for (const [key, old] of before) if (!after.has(key)) touched.add(this.forget(source, old));
    return this.rechoose(touched);
  }

  /** Drops a source entirely (it stopped). */
  removeSource(source: string): PeerChange[] {
    const changes = this.setSource(source, []);
    this.raw.delete(source);
    return changes;
  }

  /** Our own subnet changed (a lease acquired): every peer is checked again. */
  setOwn(own: Subnet | undefined, order: readonly string[] = this.order): PeerChange[] {
    this.own = own;
    this.order = order;
    this.ownConflicts.clear();
    const touched = new Set<string>(this.chosen.keys());
    this.candidates.clear();
    for (const [source, peers] of this.raw) {
      for (const p of peers.values()) {
        const subnet = this.remember(source, p);
        if (subnet !== undefined) touched.add(subnet);
      }
    }
    return this.rechoose(touched);
  }

  private remember(source: string, p: Peer): string | undefined {
    const sn = parseSubnet(p.subnet);
    if (sn === undefined) return undefined;
    const entry: MergedPeer = { subnet: sn.cidr, vtep: sn.network, publicIP: p.publicIP, vtepMAC: p.vtepMAC.toLowerCase(), source };
    if (this.own !== undefined && overlaps(sn, this.own)) {
      this.ownConflicts.set(`${source}|${sn.cidr}`, { subnet: sn.cidr, kept: { source: 'own', publicIP: '', vtepMAC: '' }, ignored: brief(entry), reason: `overlaps this host's subnet ${this.own.cidr}` });
      return undefined;
    }
    let bySource = this.candidates.get(sn.cidr);
    if (bySource === undefined) {
      bySource = new Map();
      this.candidates.set(sn.cidr, bySource);
    }
    bySource.set(source, entry);
    return sn.cidr;
  }

  private forget(source: string, p: Peer): string {
    const sn = parseSubnet(p.subnet);
    const cidr = sn?.cidr ?? p.subnet;
    this.ownConflicts.delete(`${source}|${cidr}`);
    const bySource = this.candidates.get(cidr);
    bySource?.delete(source);
    if (bySource?.size === 0) this.candidates.delete(cidr);
    return cidr;
  }

  private rechoose(subnets: Iterable<string>): PeerChange[] {
    const changes: PeerChange[] = [];
    for (const subnet of subnets) {
      const prev = this.chosen.get(subnet);
      const list = [...(this.candidates.get(subnet)?.values() ?? [])].sort((a, b) => this.rank(a.source) - this.rank(b.source));
      // The oldest choice wins: one made before a reload, else the current one, else source order.
      const pick = (p: MergedPeer | undefined): MergedPeer | undefined => (p === undefined ? undefined : list.find((c) => host(c) === host(p)));
      const kept = pick(this.preferred.get(subnet)) ?? pick(prev) ?? list[0];
      const others = kept === undefined ? [] : list.filter((c) => host(c) !== host(kept));
      if (others.length > 0 && kept !== undefined) {
        this.conflictsBySubnet.set(subnet, others.map((c) => ({ subnet, kept: brief(kept), ignored: brief(c), reason: 'same subnet, different host' })));
      } else {
        this.conflictsBySubnet.delete(subnet);
      }
      if (prev !== undefined && kept !== undefined && host(prev) === host(kept)) {
        if (prev.source !== kept.source) this.chosen.set(subnet, kept);
        continue;
      }
      if (prev !== undefined) {
        this.chosen.delete(subnet);
        if (this.neighbourMac.get(prev.vtep) === prev.vtepMAC) this.neighbourMac.delete(prev.vtep);
        if (this.fdbDst.get(prev.vtepMAC) === prev.publicIP) this.fdbDst.delete(prev.vtepMAC);
      }
      if (kept !== undefined) {
        this.chosen.set(subnet, kept);
        this.neighbourMac.set(kept.vtep, kept.vtepMAC);
        this.fdbDst.set(kept.vtepMAC, kept.publicIP);
      }
      if (prev !== undefined || kept !== undefined) changes.push({ subnet, ...(prev === undefined ? {} : { before: prev }), ...(kept === undefined ? {} : { after: kept }) });
    }
    return changes;
  }

  private rank(source: string): number {
    const i = this.order.indexOf(source);
    return i < 0 ? this.order.length : i;
  }
}
