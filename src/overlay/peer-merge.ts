/**
 * Merges the peer sets of all sources (pure): the union by subnet. When two sources disagree on
 * a subnet (different host), the entry already programmed stays (the oldest), otherwise the
 * first source in order wins; the disagreement is reported, never flapped. Peers overlapping
 * our own subnet are dropped and reported.
 */
import type { Peer } from './peer-source.js';
import { overlaps, parseSubnet, type Subnet } from './subnet.js';
import type { DesiredPeer } from './plan.js';

export interface Conflict {
  subnet: string;
  kept: { source: string; publicIP: string; vtepMAC: string };
  ignored: { source: string; publicIP: string; vtepMAC: string };
  reason: string;
}

export interface MergeResult {
  peers: Map<string, DesiredPeer & { source: string }>;
  conflicts: Conflict[];
}

export interface SourcePeers {
  source: string;
  peers: readonly Peer[];
}

function host(p: { publicIP: string; vtepMAC: string }): string {
  return `${p.publicIP}|${p.vtepMAC.toLowerCase()}`;
}

function brief(p: { source: string; publicIP: string; vtepMAC: string }): Conflict['kept'] {
  return { source: p.source, publicIP: p.publicIP, vtepMAC: p.vtepMAC };
}

export function mergePeers(sets: readonly SourcePeers[], own: Subnet | undefined, previous: ReadonlyMap<string, { publicIP: string; vtepMAC: string; source: string }>): MergeResult {
  const candidates = new Map<string, (DesiredPeer & { source: string })[]>();
  const conflicts: Conflict[] = [];
  for (const set of sets) {
    for (const p of set.peers) {
      const sn = parseSubnet(p.subnet);
      if (sn === undefined) continue;
      const entry = { subnet: sn.cidr, vtep: sn.network, publicIP: p.publicIP, vtepMAC: p.vtepMAC.toLowerCase(), source: set.source };
      if (own !== undefined && overlaps(sn, own)) {
        conflicts.push({ subnet: sn.cidr, kept: { source: 'own', publicIP: '', vtepMAC: '' }, ignored: brief(entry), reason: `overlaps this host's subnet ${own.cidr}` });
        continue;
      }
      const list = candidates.get(sn.cidr);
      if (list === undefined) candidates.set(sn.cidr, [entry]);
      else list.push(entry);
    }
  }
  const peers = new Map<string, DesiredPeer & { source: string }>();
  for (const [subnet, list] of candidates) {
    const prev = previous.get(subnet);
    const kept = (prev === undefined ? undefined : list.find((c) => host(c) === host(prev))) ?? list[0];
    if (kept === undefined) continue;
    peers.set(subnet, kept);
    for (const c of list) {
      if (host(c) !== host(kept)) conflicts.push({ subnet, kept: brief(kept), ignored: brief(c), reason: 'same subnet, different host' });
    }
  }
  return { peers, conflicts };
}
