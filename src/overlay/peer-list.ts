/**
 * The peers as /status lists them (pure): the first ones in address order, each with its
 * underlay address, VTEP MAC, source and whether it is in the kernel, or why not. Bounded, so a
 * host with thousands of peers keeps /status small; the counts stay beside it.
 */
import { ipv4ToInt } from '../net/cidr.js';
import type { DesiredEntry } from './desired-peers.js';

export const STATUS_PEERS = 200;

export interface PeerRow {
  subnet: string;
  publicIP: string;
  vtepMAC: string;
  source: string;
  programmed: boolean;
  /** Why it is not programmed (the kernel's refusal, or the pass that has not run). */
  reason?: string;
}

/** `notProgrammed` says why a peer is not in the kernel, or undefined when it is. */
export function peerRows(peers: Iterable<DesiredEntry>, notProgrammed: (peer: DesiredEntry) => string | undefined, limit = STATUS_PEERS): PeerRow[] {
  const sorted = [...peers].map((p) => ({ p, at: ipv4ToInt(p.subnet.split('/')[0] ?? '') })).sort((a, b) => a.at - b.at);
  return sorted.slice(0, limit).map(({ p }) => {
    const reason = notProgrammed(p);
    return { subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC, source: p.source, programmed: reason === undefined, ...(reason === undefined ? {} : { reason }) };
  });
}
