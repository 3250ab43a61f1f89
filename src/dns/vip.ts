/**
 * Stable VIPs for ServiceEntry hosts that have no addresses. A host's preferred address is a
 * hash of its name inside the autoAllocate range, so it survives restarts and reloads with no
 * state file; on a collision the lexicographically smaller host keeps the slot and the other
 * probes forward. Addresses written in manifests are never handed out. Pure.
 */
import { intToIpv4, ipv4Range, ipv4ToInt, parseCidr } from '../net/cidr.js';

export interface VipResult {
  vips: Map<string, string>;
  /** Hosts that got no address (range exhausted or not IPv4). */
  failed: { host: string; reason: string }[];
}

export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function allocateVips(hosts: readonly string[], range: string, reserved: ReadonlySet<string>): VipResult {
  const vips = new Map<string, string>();
  const failed: VipResult['failed'] = [];
  const cidr = parseCidr(range);
  const sorted = [...new Set(hosts)].sort();
  if (cidr === undefined || cidr.family !== 4) {
    for (const host of sorted) failed.push({ host, reason: `autoAllocate ${range} is not an IPv4 range` });
    return { vips, failed };
  }
  let [first, last] = ipv4Range(cidr);
  if (cidr.prefix <= 30) {
    first += 1; // skip the network and broadcast addresses
    last -= 1;
  }
  const size = last - first + 1;
  const taken = new Set<number>();
  for (const address of reserved) if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) taken.add(ipv4ToInt(address));
  for (const host of sorted) {
    let slot = fnv1a(host) % size;
    let placed = false;
    for (let tries = 0; tries < size; tries++) {
      const address = first + slot;
      if (!taken.has(address)) {
        taken.add(address);
        vips.set(host, intToIpv4(address));
        placed = true;
        break;
      }
      slot = (slot + 1) % size;
    }
    if (!placed) failed.push({ host, reason: `autoAllocate range ${range} is full` });
  }
  return { vips, failed };
}
