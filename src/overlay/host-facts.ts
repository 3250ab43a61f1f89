/**
 * What the peer gate needs to know about this host, from the kernel's own tables (pure): every
 * IPv4 address, the networks of the interfaces other than the overlay device, and the main
 * table's routes that are not the overlay's. A peer may claim none of it.
 */
import type { Address } from '../netlink/addresses.js';
import type { Route } from '../netlink/routes.js';
import type { LocalFacts, NetworkBounds } from './peer-gate.js';
import { parseSubnet } from './subnet.js';

export interface HostTables {
  addresses: readonly Address[];
  /** The main table, as dumped. */
  routes: readonly Route[];
  /** The overlay device's ifindex: its addresses and routes are ours. */
  overlayIndex: number;
}

export interface OwnIdentity {
  network?: NetworkBounds | undefined;
  ownSubnet?: string | undefined;
  ownMAC?: string | undefined;
}

export function hostFacts(tables: HostTables, own: OwnIdentity): LocalFacts {
  const connected = new Set<string>();
  for (const a of tables.addresses) {
    if (a.index === tables.overlayIndex) continue;
    const net = parseSubnet(`${a.address}/${a.prefix}`);
    if (net !== undefined) connected.add(net.cidr);
  }
  const foreign = new Set<string>();
  for (const r of tables.routes) if (r.oif !== tables.overlayIndex) foreign.add(r.dst);
  return {
    ...(own.network === undefined ? {} : { network: own.network }),
    ...(own.ownSubnet === undefined ? {} : { ownSubnet: own.ownSubnet }),
    ...(own.ownMAC === undefined ? {} : { ownMAC: own.ownMAC }),
    addresses: [...new Set(tables.addresses.map((a) => a.address))].sort(),
    connected: [...connected].sort(),
    foreignRoutes: [...foreign].sort(),
  };
}

/** A stable text of the facts: the gate runs again only when it changes. */
export function factsFingerprint(f: LocalFacts): string {
  return JSON.stringify([f.network ?? null, f.ownSubnet ?? '', f.ownMAC ?? '', f.addresses, f.connected, f.foreignRoutes]);
}
