/**
 * Which spec.podCIDR this VM's Node gets (pure). spec.podCIDR is immutable once set, so a Node
 * that has one keeps it. Otherwise: overlay.subnet when configured; else, once the cluster's CIDR
 * allocator has had its chance (the caller waits), a free subnet of Network chosen against every
 * Node's podCIDR. The free choice is random among the highest free subnets: the allocator hands
 * out the lowest ones first, so a VM racing it (or another VM) rarely picks the same.
 */
import { intToIpv4, ipv4Range, ipv4ToInt, parseCidr } from '../../net/cidr.js';
import type { NetworkConfig } from '../etcd-network-config.js';

export interface PodCIDRInput {
  net: NetworkConfig;
  /** overlay.subnet, or ''. */
  configured: string;
  /** Our Node's spec.podCIDR ('' when unset or no Node yet). */
  current: string;
  /** Every other Node's podCIDR (any text; unusable ones are ignored). */
  others: readonly { name: string; podCIDR: string }[];
  /** Whether we may choose a free subnet ourselves (the allocator's wait is over). */
  mayChoose: boolean;
  random?: () => number;
}

export type PodCIDRChoice =
  /** The Node already has this podCIDR. */
  | { kind: 'keep'; subnet: string }
  /** Write this podCIDR (at creation, or into an unset spec.podCIDR). */
  | { kind: 'set'; subnet: string; why: string }
  /** Leave spec.podCIDR unset for now: the cluster's allocator may assign one. */
  | { kind: 'wait' }
  | { kind: 'blocked'; reason: string };

const CANDIDATES = 100;

function range(text: string): [number, number] | undefined {
  const c = parseCidr(text);
  return c?.family === 4 ? ipv4Range(c) : undefined;
}

/** Why `subnet` cannot be ours in `net`, or undefined. */
export function podCIDRProblem(net: NetworkConfig, subnet: string): string | undefined {
  const c = parseCidr(subnet);
  if (c?.family !== 4) return 'is not an IPv4 CIDR';
  const [first, last] = ipv4Range(c);
  if (first !== ipv4ToInt(c.address)) return `is not a network address (did you mean ${intToIpv4(first)}/${c.prefix}?)`;
  const n = range(net.network);
  if (n === undefined || first < n[0] || last > n[1]) return `is outside the flannel Network ${net.network}`;
  return undefined;
}

function holderOf(subnet: string, others: PodCIDRInput['others']): string | undefined {
  const r = range(subnet);
  if (r === undefined) return undefined;
  return others.find((o) => {
    const x = range(o.podCIDR);
    return x !== undefined && x[0] <= r[1] && r[0] <= x[1];
  })?.name;
}

/** The prefix length most Nodes inside Network use (the allocator's node-cidr-mask-size), else SubnetLen. */
export function clusterSubnetLen(net: NetworkConfig, others: PodCIDRInput['others']): number {
  const n = range(net.network);
  const counts = new Map<number, number>();
  for (const o of others) {
    const c = parseCidr(o.podCIDR);
    const r = range(o.podCIDR);
    if (c === undefined || r === undefined || n === undefined || r[0] < n[0] || r[1] > n[1]) continue;
    counts.set(c.prefix, (counts.get(c.prefix) ?? 0) + 1);
  }
  let best = net.subnetLen;
  let most = 0;
  for (const [len, count] of counts) if (count > most || (count === most && len > best)) [best, most] = [len, count];
  return best;
}

/** Up to `limit` free subnets of `len`, from the top of Network (or SubnetMax when set) downward. */
export function freePodCIDRs(net: NetworkConfig, len: number, others: PodCIDRInput['others'], limit: number): string[] {
  const n = range(net.network);
  if (n === undefined) return [];
  const size = 2 ** (32 - len);
  const taken = others.map((o) => range(o.podCIDR)).filter((r): r is [number, number] => r !== undefined);
  const low = net.minSet ? Math.max(n[0], ipv4ToInt(net.subnetMin)) : n[0];
  const high = net.maxSet ? Math.min(n[1] - size + 1, ipv4ToInt(net.subnetMax)) : n[1] - size + 1;
  const out: string[] = [];
  for (let start = Math.floor(high / size) * size; start >= low && out.length < limit; start -= size) {
    const end = start + size - 1;
    if (taken.every(([a, b]) => b < start || a > end)) out.push(`${intToIpv4(start)}/${len}`);
  }
  return out;
}

export function choosePodCIDR(input: PodCIDRInput): PodCIDRChoice {
  const { net, configured, current, others } = input;
  if (current !== '') {
    const problem = podCIDRProblem(net, current);
    if (problem !== undefined) return { kind: 'blocked', reason: `the Node's spec.podCIDR ${current} ${problem}; flanneld refuses such a Node too: delete the Node (mesh-node-agent leave) and start again` };
    if (configured !== '' && range(configured)?.join() !== range(current)?.join()) {
      return { kind: 'blocked', reason: `overlay.subnet is ${configured} but the Node already has spec.podCIDR ${current}, which cannot change: unset overlay.subnet, or run mesh-node-agent leave and start again` };
    }
    return { kind: 'keep', subnet: current };
  }
  if (configured !== '') {
    const problem = podCIDRProblem(net, configured);
    if (problem !== undefined) return { kind: 'blocked', reason: `overlay.subnet ${configured} ${problem}` };
    const holder = holderOf(configured, others);
    if (holder !== undefined) return { kind: 'blocked', reason: `overlay.subnet ${configured} overlaps the podCIDR of Node ${holder}; choose another subnet or unset overlay.subnet` };
    return { kind: 'set', subnet: configured, why: 'overlay.subnet' };
  }
  if (!input.mayChoose) return { kind: 'wait' };
  const len = clusterSubnetLen(net, others);
  const free = freePodCIDRs(net, len, others, CANDIDATES);
  if (free.length === 0) return { kind: 'blocked', reason: `no free /${len} left in ${net.network} (${others.length} other Nodes)` };
  const random = input.random ?? Math.random;
  const subnet = free[Math.min(free.length - 1, Math.floor(random() * free.length))] ?? free[0] ?? '';
  return { kind: 'set', subnet, why: 'free subnet' };
}
