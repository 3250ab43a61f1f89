/**
 * What the peer gate needs to know about this host, from the kernel's own tables (pure): the IPv4
 * addresses and networks of the interfaces other than the overlay device (its VTEP address lies
 * in this host's subnet, which the gate guards anyway), and the main table's routes that are not
 * the overlay's. A peer may claim none of it. Leaving the device out keeps the facts the same
 * before and after the device is set up, so the start pass decides nothing twice.
 */
import type { Address } from '../netlink/addresses.js';
import type { Route } from '../netlink/routes.js';
import type { NetworkBounds } from '../registry/peer-source.js';
import type { LocalFacts } from './peer-gate.js';
import { parseSubnet } from './subnet.js';

export interface HostTables {
  addresses: readonly Address[];
  /** The main table, as dumped. */
  routes: readonly Route[];
  /** The overlay device's ifindex (and the one it had before a re-creation): its addresses and routes are ours. */
  overlayIndexes: readonly number[];
}

export interface OwnIdentity {
  network?: NetworkBounds | undefined;
  ownSubnet?: string | undefined;
  ownMAC?: string | undefined;
}

export function hostFacts(tables: HostTables, own: OwnIdentity): LocalFacts {
  const ours = new Set(tables.overlayIndexes);
  const connected = new Set<string>();
  const addresses = new Set<string>();
  for (const a of tables.addresses) {
    if (ours.has(a.index)) continue;
    addresses.add(a.address);
    const net = parseSubnet(`${a.address}/${a.prefix}`);
    if (net !== undefined) connected.add(net.cidr);
  }
  const foreign = new Set<string>();
  for (const r of tables.routes) if (r.oif === undefined || !ours.has(r.oif)) foreign.add(r.dst);
  return {
    ...(own.network === undefined ? {} : { network: own.network }),
    ...(own.ownSubnet === undefined ? {} : { ownSubnet: own.ownSubnet }),
    ...(own.ownMAC === undefined ? {} : { ownMAC: own.ownMAC }),
    addresses: [...addresses].sort(),
    connected: [...connected].sort(),
    foreignRoutes: [...foreign].sort(),
  };
}

/** A stable text of the facts: the gate runs again only when it changes. */
export function factsFingerprint(f: LocalFacts): string {
  return JSON.stringify([f.network ?? null, f.ownSubnet ?? '', f.ownMAC ?? '', f.addresses, f.connected, f.foreignRoutes]);
}
