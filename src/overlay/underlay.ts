/**
 * Picks the underlay link and local address (pure), as flannel does: the configured interface
 * or address, else the interface of the default route; its first IPv4 address is the VTEP's
 * local address.
 */
import { AgentError, ErrorCode } from '../errors.js';
import type { Address } from '../netlink/addresses.js';
import type { Link } from '../netlink/links.js';
import type { Route } from '../netlink/routes.js';

export interface Underlay {
  index: number;
  name: string;
  mtu: number;
  address: string;
}

export interface UnderlayChoice {
  interface: string;
  address: string;
}

function bad(message: string): AgentError {
  return new AgentError(ErrorCode.ConfigInvalid, message);
}

export function resolveUnderlay(choice: UnderlayChoice, links: readonly Link[], addresses: readonly Address[], routes: readonly Route[]): Underlay {
  const byIndex = new Map(links.map((l) => [l.index, l]));
  const firstAddress = (index: number): string | undefined => addresses.find((a) => a.index === index)?.address;
  if (choice.interface !== '') {
    const link = links.find((l) => l.name === choice.interface);
    if (link === undefined) {
      throw bad(`overlay.underlay.interface: no interface named "${choice.interface}" on this host (have: ${links.map((l) => l.name).join(', ')}); set it to the NIC that reaches the cluster nodes`);
    }
    const address = choice.address !== '' ? choice.address : firstAddress(link.index);
    if (address === undefined) throw bad(`overlay.underlay.interface: "${choice.interface}" has no IPv4 address; give it one or set overlay.underlay.address`);
    if (choice.address !== '' && !addresses.some((a) => a.index === link.index && a.address === choice.address)) {
      throw bad(`overlay.underlay.address: ${choice.address} is not an address of "${choice.interface}"`);
    }
    return { index: link.index, name: link.name, mtu: link.mtu, address };
  }
  if (choice.address !== '') {
    const owner = addresses.find((a) => a.address === choice.address);
    const link = owner === undefined ? undefined : byIndex.get(owner.index);
    if (link === undefined) throw bad(`overlay.underlay.address: no interface on this host has the address ${choice.address}`);
    return { index: link.index, name: link.name, mtu: link.mtu, address: choice.address };
  }
  const def = routes.find((r) => r.dst === '0.0.0.0/0' && r.oif !== undefined);
  const link = def?.oif === undefined ? undefined : byIndex.get(def.oif);
  if (link === undefined) throw bad('overlay.underlay: no default route to pick the underlay interface from; set overlay.underlay.interface or overlay.underlay.address');
  const address = firstAddress(link.index);
  if (address === undefined) throw bad(`overlay.underlay: the default route's interface "${link.name}" has no IPv4 address; set overlay.underlay.address`);
  return { index: link.index, name: link.name, mtu: link.mtu, address };
}
