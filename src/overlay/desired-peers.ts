/**
 * The peers the kernel should have (pure, no I/O): what the gate accepted, by subnet. The gate
 * already decided every claim, so no two entries share a subnet, a VTEP address, a MAC or a
 * public IP, and no two desired objects can fight over one kernel object. Updates return only
 * the subnets whose peer changed, so a change costs a plan of that change, not of the table.
 */
import type { GatedPeer } from './peer-gate.js';
import type { DesiredPeer } from './plan.js';

export type DesiredEntry = DesiredPeer & { source: string; key: string };

/** A subnet whose peer changed: added (no before), removed (no after) or replaced. */
export interface PeerChange {
  subnet: string;
  before?: DesiredEntry;
  after?: DesiredEntry;
}

const sameHost = (a: DesiredPeer, b: DesiredPeer): boolean => a.publicIP === b.publicIP && a.vtepMAC === b.vtepMAC && a.vtep === b.vtep;

export class DesiredPeers {
  /** The gate's own objects (no copy per peer): a GatedPeer is a DesiredEntry. */
  private readonly bySubnet = new Map<string, GatedPeer>();
  private readonly idOf = new Map<string, string>();
  private readonly subnetOf = new Map<string, string>();
  /** Desired neighbour MAC by VTEP address, desired FDB dst by MAC: for event checks and plans. */
  readonly neighbourMac = new Map<string, string>();
  readonly fdbDst = new Map<string, string>();

  get peers(): ReadonlyMap<string, DesiredEntry> {
    return this.bySubnet;
  }

  /** New acceptance states by candidate id (undefined: no longer accepted); returns changed subnets. */
  update(outcomes: Iterable<{ id: string; accepted?: GatedPeer | undefined }>): PeerChange[] {
    const before = new Map<string, DesiredEntry>();
    const added: { id: string; p: GatedPeer }[] = [];
    // Forget first: a subnet or a MAC may pass from one candidate to another in one update.
    for (const o of outcomes) {
      const subnet = this.subnetOf.get(o.id);
      const old = subnet === undefined ? undefined : this.bySubnet.get(subnet);
      if (old !== undefined && subnet !== undefined && this.idOf.get(subnet) === o.id) {
        this.forget(old);
        if (!before.has(old.subnet)) before.set(old.subnet, old);
      }
      if (o.accepted !== undefined) added.push({ id: o.id, p: o.accepted });
    }
    for (const { id, p } of added) {
      // Never two entries for one subnet, whatever the caller sent.
      const clash = this.bySubnet.get(p.subnet);
      if (clash !== undefined) {
        this.forget(clash);
        if (!before.has(clash.subnet)) before.set(clash.subnet, clash);
      }
      this.bySubnet.set(p.subnet, p);
      this.idOf.set(p.subnet, id);
      this.subnetOf.set(id, p.subnet);
      this.neighbourMac.set(p.vtep, p.vtepMAC);
      this.fdbDst.set(p.vtepMAC, p.publicIP);
    }
    const changes: PeerChange[] = [];
    for (const [subnet, prev] of before) {
      const now = this.bySubnet.get(subnet);
      if (now !== undefined && sameHost(prev, now)) continue;
      changes.push(now === undefined ? { subnet, before: prev } : { subnet, before: prev, after: now });
    }
    for (const { p } of added) if (!before.has(p.subnet)) changes.push({ subnet: p.subnet, after: p });
    return changes;
  }

  /** The full accepted set (after the facts changed): only differences become changes. */
  replace(accepted: ReadonlyMap<string, GatedPeer>): PeerChange[] {
    const outcomes = this.outcomesOf(accepted);
    for (const id of this.subnetOf.keys()) if (!accepted.has(id)) outcomes.push({ id, accepted: undefined });
    return this.update(outcomes);
  }

  private outcomesOf(accepted: ReadonlyMap<string, GatedPeer>): { id: string; accepted: GatedPeer | undefined }[] {
    const out: { id: string; accepted: GatedPeer | undefined }[] = [];
    for (const [id, p] of accepted) if (!this.same(id, p)) out.push({ id, accepted: p });
    return out;
  }

  private same(id: string, p: GatedPeer): boolean {
    const e = this.bySubnet.get(this.subnetOf.get(id) ?? '');
    return e !== undefined && e.subnet === p.subnet && sameHost(e, p) && e.source === p.source && e.key === p.key;
  }

  private forget(e: GatedPeer): void {
    const id = this.idOf.get(e.subnet);
    this.bySubnet.delete(e.subnet);
    this.idOf.delete(e.subnet);
    if (id !== undefined) this.subnetOf.delete(id);
    if (this.neighbourMac.get(e.vtep) === e.vtepMAC) this.neighbourMac.delete(e.vtep);
    if (this.fdbDst.get(e.vtepMAC) === e.publicIP) this.fdbDst.delete(e.vtepMAC);
  }
}
