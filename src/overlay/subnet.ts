/** IPv4 subnet arithmetic for the overlay (pure). */
import { intToIpv4, ipv4Range, parseCidr } from '../net/cidr.js';

export interface Subnet {
  /** Normalized CIDR, e.g. 10.234.1.0/24. */
  cidr: string;
  /** Network address: the host's VTEP address, gateway of its route and its neighbour entry. */
  network: string;
  prefix: number;
  first: number;
  last: number;
}

export function parseSubnet(text: string): Subnet | undefined {
  const c = parseCidr(text);
  if (c?.family !== 4) return undefined;
  const [first, last] = ipv4Range(c);
  const network = intToIpv4(first);
  return { cidr: `${network}/${c.prefix}`, network, prefix: c.prefix, first, last };
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function contains(outer: Subnet, inner: Subnet): boolean {
  return outer.first <= inner.first && inner.last <= outer.last;
}
