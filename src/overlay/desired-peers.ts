/**
 * The peers the kernel should have (pure, no I/O): what the gate accepted, by subnet. The gate
 * already decided every claim, so no two entries share a subnet, a VTEP address, a MAC or a
 * public IP, and no two desired objects can fight over one kernel object. Updates return only
 * the subnets whose peer changed, so a source delivering its full set costs a comparison per
 * peer and a plan per change.
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
  private readonly bySubnet = new Map<string, DesiredEntry>();
  /** Desired neighbour MAC by VTEP address, desired FDB dst by MAC: for event checks and plans. */
  readonly neighbourMac = new Map<string, string>();
  readonly fdbDst = new Map<string, string>();

  get peers(): ReadonlyMap<string, DesiredEntry> {
    return this.bySubnet;
  }

  /** The gate's full accepted set; returns the subnets whose peer changed. */
  replace(accepted: readonly GatedPeer[]): PeerChange[] {
    const next = new Map<string, DesiredEntry>();
    for (const p of accepted) next.set(p.subnet, { subnet: p.subnet, vtep: p.vtep, publicIP: p.publicIP, vtepMAC: p.vtepMAC, source: p.source, key: p.key });
    const changes: PeerChange[] = [];
    const replaced = new Set<string>();
    for (const [subnet, prev] of this.bySubnet) {
      const now = next.get(subnet);
      if (now !== undefined && sameHost(prev, now)) {
        // Same host, maybe reported by another source now: nothing for the kernel.
        if (prev.source !== now.source || prev.key !== now.key) this.bySubnet.set(subnet, now);
        next.delete(subnet);
        continue;
      }
      // Forget the old objects first: a MAC may move to another subnet in the same update.
      if (this.neighbourMac.get(prev.vtep) === prev.vtepMAC) this.neighbourMac.delete(prev.vtep);
      if (this.fdbDst.get(prev.vtepMAC) === prev.publicIP) this.fdbDst.delete(prev.vtepMAC);
      this.bySubnet.delete(subnet);
      if (now === undefined) changes.push({ subnet, before: prev });
      else {
        changes.push({ subnet, before: prev, after: now });
        replaced.add(subnet);
      }
    }
    for (const [subnet, p] of next) {
      this.bySubnet.set(subnet, p);
      this.neighbourMac.set(p.vtep, p.vtepMAC);
      this.fdbDst.set(p.vtepMAC, p.publicIP);
      if (!replaced.has(subnet)) changes.push({ subnet, after: p });
    }
    return changes;
  }
}
