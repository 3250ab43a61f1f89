/**
 * Which subnet this VM should hold, decided from a snapshot of the registry (flannel's
 * tryAcquireLease order): the configured subnet, else the lease already carrying our public IP,
 * else the subnet we held before (persisted), else a random free one. Pure: the caller turns the
 * decision into one etcd transaction.
 */
import { intToIpv4, ipv4Range, ipv4ToInt, parseCidr } from '../net/cidr.js';
import { subnetProblem, type NetworkConfig } from './etcd-network-config.js';

export interface ExistingLease {
  subnet: string;
  publicIP: string;
  /** etcd mod_revision, for a compare-and-swap when we take our own lease over. */
  modRevision: string;
  /** The etcd lease the key is attached to ('0' or absent: none). */
  leaseId?: string;
}

export interface ChoiceInput {
  net: NetworkConfig;
  publicIP: string;
  /** overlay.subnet, or '' */
  configured: string;
  /** The subnet persisted in stateDir by a previous run, or ''. */
  persisted: string;
  leases: readonly ExistingLease[];
  /** [0, 1) — injectable so tests are deterministic. */
  random?: () => number;
}

export type Choice =
  /** Create the key only if absent (Version == 0). */
  | { kind: 'create'; subnet: string; why: string }
  /** The key holds our own address: rewrite it only if unchanged since we read it. */
  | { kind: 'takeover'; subnet: string; modRevision: string; why: string }
  /** Nothing we may take; retry later and report why. */
  | { kind: 'blocked'; reason: string };

/** flannel collects at most this many free subnets and picks one at random, to spread racing hosts. */
const CANDIDATES = 100;

export function chooseSubnet(input: ChoiceInput): Choice {
  const { net, publicIP, leases } = input;
  const bySubnet = new Map(leases.map((l) => [l.subnet, l]));
  if (input.configured !== '') {
    const problem = subnetProblem(net, input.configured);
    if (problem !== undefined) return { kind: 'blocked', reason: `overlay.subnet ${input.configured} ${problem}` };
    const held = bySubnet.get(input.configured);
    if (held === undefined) return { kind: 'create', subnet: input.configured, why: 'overlay.subnet' };
    if (held.publicIP === publicIP) return { kind: 'takeover', subnet: held.subnet, modRevision: held.modRevision, why: 'overlay.subnet, lease already ours' };
    return { kind: 'blocked', reason: `overlay.subnet ${input.configured} is held by ${held.publicIP}; never taking another host's lease: choose another subnet or unset overlay.subnet` };
  }
  const ours = leases.find((l) => l.publicIP === publicIP && subnetProblem(net, l.subnet) === undefined);
  if (ours !== undefined) return { kind: 'takeover', subnet: ours.subnet, modRevision: ours.modRevision, why: 'lease already carrying our public IP' };
  if (input.persisted !== '' && subnetProblem(net, input.persisted) === undefined && isFree(input.persisted, leases)) {
    return { kind: 'create', subnet: input.persisted, why: 'subnet persisted in stateDir' };
  }
  const free = freeSubnets(net, leases, CANDIDATES);
  if (free.length === 0) return { kind: 'blocked', reason: `no free /${net.subnetLen} left in ${net.network} (${leases.length} leases)` };
  const random = input.random ?? Math.random;
  const subnet = free[Math.min(free.length - 1, Math.floor(random() * free.length))] ?? free[0] ?? '';
  return { kind: 'create', subnet, why: 'free subnet' };
}

function rangeOf(subnet: string): [number, number] | undefined {
  const cidr = parseCidr(subnet);
  return cidr?.family === 4 ? ipv4Range(cidr) : undefined;
}

function isFree(subnet: string, leases: readonly ExistingLease[]): boolean {
  const r = rangeOf(subnet);
  if (r === undefined) return false;
  return leases.every((l) => {
    const o = rangeOf(l.subnet);
    return o === undefined || o[1] < r[0] || o[0] > r[1];
  });
}

/** Up to `limit` free subnets from SubnetMin upward, skipping any that overlap an existing lease. */
export function freeSubnets(net: NetworkConfig, leases: readonly ExistingLease[], limit: number): string[] {
  const size = 2 ** (32 - net.subnetLen);
  const taken = leases.map((l) => rangeOf(l.subnet)).filter((r): r is [number, number] => r !== undefined);
  const out: string[] = [];
  for (let start = ipv4ToInt(net.subnetMin); start <= ipv4ToInt(net.subnetMax) && out.length < limit; start += size) {
    const end = start + size - 1;
    if (taken.every(([a, b]) => b < start || a > end)) out.push(`${intToIpv4(start)}/${net.subnetLen}`);
  }
  return out;
}
