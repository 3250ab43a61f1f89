/**
 * IPv4 ranges for the peer gate (pure): which integer range a CIDR covers, a set of ranges that
 * answers "does anything overlap [a, b]?" in O(log n) (a host may have many routes), and the
 * address classes a VXLAN remote can never be.
 */
import { isIPv4 } from 'node:net';
import { ipv4ToInt } from '../net/cidr.js';
import { parseSubnet, type Subnet } from './subnet.js';
import { AgentError, ErrorCode } from '../errors.js';

export interface Range {
  first: number;
  last: number;
  /** What to name in a refusal, e.g. "192.168.0.0/24". */
  label: string;
}

/** Ranges sorted by start, with the running maximum of their ends: overlap queries by binary search. */
export class RangeSet {
  private readonly ranges: Range[];
  /** Index of the range with the largest `last` among ranges[0..i]. */
  private readonly reach: number[];

  constructor(ranges: readonly Range[]) {
    this.ranges = [...ranges].sort((a, b) => a.first - b.first || a.last - b.last);
    this.reach = [];
    let best = -1;
    this.ranges.forEach((r, i) => {
      if (best < 0 || r.last > (this.ranges[best]?.last ?? -1)) best = i;
      this.reach.push(best);
    });
  }

  get size(): number {
    return this.ranges.length;
  }

  /** A range overlapping [first, last], or undefined. */
  overlapping(first: number, last: number): Range | undefined {
    // Last range starting at or before `last`; among those, the one reaching furthest.
    let lo = 0;
    let hi = this.ranges.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ranges[mid]?.first ?? Infinity) <= last) {
        at = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (at < 0) return undefined;
    const r = this.ranges[this.reach[at] ?? -1];
    return r !== undefined && r.last >= first ? r : undefined;
  }

  /** The range containing `address` (a single point), or undefined. */
  containing(address: number): Range | undefined {
    return this.overlapping(address, address);
  }
}

export function rangeOf(subnet: Subnet, label = subnet.cidr): Range {
  return { first: subnet.first, last: subnet.last, label };
}

/** CIDR texts to ranges; unparseable or IPv6 entries are skipped (facts come from the kernel). */
export function rangesOf(cidrs: readonly string[]): Range[] {
  const out: Range[] = [];
  for (const c of cidrs) {
    const s = parseSubnet(c);
    if (s !== undefined) out.push(rangeOf(s));
  }
  return out;
}

const SPECIAL: readonly [string, string][] = [
  ['0.0.0.0/8', 'is in 0.0.0.0/8 ("this network")'],
  ['127.0.0.0/8', 'is a loopback address'],
  ['169.254.0.0/16', 'is a link-local address'],
  ['224.0.0.0/4', 'is a multicast address'],
  ['255.255.255.255/32', 'is the broadcast address'],
  ['240.0.0.0/4', 'is in the reserved 240.0.0.0/4'],
];
const SPECIAL_RANGES = SPECIAL.map(([cidr, why]) => {
  const s = parseSubnet(cidr);
  if (s === undefined) throw new AgentError(ErrorCode.Internal, `bad constant ${cidr}`);
  return { first: s.first, last: s.last, why };
});

/** Why `ip` cannot be a VXLAN remote (not a unicast IPv4 address), or undefined when it can. */
export function unicastProblem(ip: string): string | undefined {
  if (!isIPv4(ip)) return 'is not an IPv4 address';
  const n = ipv4ToInt(ip);
  return SPECIAL_RANGES.find((r) => n >= r.first && n <= r.last)?.why;
}

/** Why `mac` cannot be a VTEP MAC (all-zero, or multicast/broadcast), or undefined when it can. */
export function macProblem(mac: string): string | undefined {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) return 'is not a MAC address';
  if (mac === '00:00:00:00:00:00') return "is the all-zero MAC (the flood entry, not a VTEP)";
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) return mac === 'ff:ff:ff:ff:ff:ff' ? 'is the broadcast MAC; a VTEP MAC is unicast' : 'is a multicast MAC; a VTEP MAC is unicast';
  return undefined;
}
