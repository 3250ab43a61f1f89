/** CIDR networks and IPv4 integer arithmetic (overlay subnets, DNS VIP ranges, capture rules). Pure. */
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

export function parseCidr(value: string): Cidr | undefined {
  const slash = value.indexOf('/');
  if (slash < 0) return undefined;
  const address = value.slice(0, slash);
  const prefixText = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (isIPv4(address) && prefix <= 32) return { address, prefix, family: 4 };
  if (isIPv6(address) && prefix <= 128) return { address, prefix, family: 6 };
  return undefined;
}

/** A dotted quad (already validated) as an integer; a character loop, as it runs per peer. */
export function ipv4ToInt(address: string): number {
  let acc = 0;
  let octet = 0;
  for (let i = 0; i < address.length; i += 1) {
    const ch = address.charCodeAt(i);
    if (ch === 46) {
      acc = acc * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (ch - 48);
    }
  }
  return acc * 256 + octet;
}

export function intToIpv4(value: number): string {
  return `${Math.floor(value / 16777216) % 256}.${Math.floor(value / 65536) % 256}.${Math.floor(value / 256) % 256}.${value % 256}`;
}

/** IPv4 network as [first, last] integer addresses. */
export function ipv4Range(cidr: Cidr): [number, number] {
  const size = 2 ** (32 - cidr.prefix);
  const first = Math.floor(ipv4ToInt(cidr.address) / size) * size;
  return [first, first + size - 1];
}
