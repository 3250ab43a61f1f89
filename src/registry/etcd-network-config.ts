/**
 * flannel's network config (`<prefix>/config`) parsed with flannel's defaults, and checked against
 * this agent's overlay config: every member of a VXLAN overlay must use the same VNI and port, so a
 * mismatch is an error the operator must fix, never something to guess around. Pure.
 */
import { intToIpv4, ipv4Range, ipv4ToInt, parseCidr } from '../net/cidr.js';
import type { NetworkBounds } from './peer-source.js';
import { AgentError, ErrorCode } from '../errors.js';

export interface NetworkConfig {
  /** e.g. 10.234.0.0/16 */
  network: string;
  subnetLen: number;
  /** First and last subnet network addresses leases may use (flannel skips the first subnet). */
  subnetMin: string;
  subnetMax: string;
  /** Whether the config sets SubnetMin / SubnetMax itself (not flannel's defaults). */
  minSet: boolean;
  maxSet: boolean;
  backendType: string;
  vni: number;
  /** 0 means the kernel default, 8472. */
  port: number;
}

/** The overlay settings the registry must agree with. */
export interface OverlayExpectations {
  vni: number;
  port: number;
  network: string;
  subnet: string;
}

const KERNEL_VXLAN_PORT = 8472;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Go's json.Unmarshal matches field names case-insensitively. */
function field(record: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : record[key];
}

function optionalInt(record: Record<string, unknown>, name: string, where: string): number | undefined {
  const value = field(record, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new AgentError(ErrorCode.ConfigInvalid, `${where}: ${name} must be a non-negative integer`);
  return value;
}

/** Parses the JSON stored at `<prefix>/config` (named `where` in errors), applying flannel's defaults. */
export function parseNetworkConfig(text: string, where: string): NetworkConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AgentError(ErrorCode.ConfigInvalid, `${where} is not JSON; write flannel's network config there, e.g. {"Network":"10.234.0.0/16","Backend":{"Type":"vxlan"}}`);
  }
  if (!isRecord(parsed)) throw new AgentError(ErrorCode.ConfigInvalid, `${where} is not a JSON object`);
  if (field(parsed, 'EnableIPv4') === false) throw new AgentError(ErrorCode.ConfigInvalid, `${where}: EnableIPv4 is false; this agent joins IPv4 flannel networks only`);
  const networkText = field(parsed, 'Network');
  const cidr = typeof networkText === 'string' ? parseCidr(networkText) : undefined;
  if (cidr === undefined || cidr.family !== 4) throw new AgentError(ErrorCode.ConfigInvalid, `${where}: Network must be an IPv4 CIDR such as 10.234.0.0/16`);
  if (cidr.prefix > 28) throw new AgentError(ErrorCode.ConfigInvalid, `${where}: Network ${String(networkText)} is smaller than /28, which flannel refuses`);
  const [first, last] = ipv4Range(cidr);
  const network = `${intToIpv4(first)}/${cidr.prefix}`;

  const subnetLen = optionalInt(parsed, 'SubnetLen', where) ?? (cidr.prefix <= 22 ? 24 : cidr.prefix + 2);
  if (subnetLen <= cidr.prefix || subnetLen > 30) throw new AgentError(ErrorCode.ConfigInvalid, `${where}: SubnetLen ${subnetLen} must be longer than the Network prefix /${cidr.prefix} and at most 30`);
  const size = 2 ** (32 - subnetLen);
  const minSet = parseBound(parsed, 'SubnetMin', where);
  const maxSet = parseBound(parsed, 'SubnetMax', where);
  const min = minSet ?? first + size;
  const max = maxSet ?? last - size + 1;
  if (min < first || max > last || min > max || min % size !== 0 || max % size !== 0) {
    throw new AgentError(ErrorCode.ConfigInvalid, `${where}: SubnetMin/SubnetMax must be /${subnetLen} network addresses inside ${network}, SubnetMin ≤ SubnetMax`);
  }

  const backend = field(parsed, 'Backend');
  const backendRecord = isRecord(backend) ? backend : {};
  const typeValue = field(backendRecord, 'Type');
  // flannel falls back to "udp" when no backend is given; only VXLAN is something we can join.
  const backendType = typeof typeValue === 'string' ? typeValue.toLowerCase() : 'udp';
  if (backendType !== 'vxlan') throw new AgentError(ErrorCode.ConfigInvalid, `${where}: Backend.Type is "${backendType}"; this agent joins vxlan networks only`);
  const vni = optionalInt(backendRecord, 'VNI', where) ?? 1;
  const port = optionalInt(backendRecord, 'Port', where) ?? 0;
  return { network, subnetLen, subnetMin: intToIpv4(min), subnetMax: intToIpv4(max), minSet: minSet !== undefined, maxSet: maxSet !== undefined, backendType, vni, port };
}

function parseBound(record: Record<string, unknown>, name: string, where: string): number | undefined {
  const value = field(record, name);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || parseCidr(`${value}/32`)?.family !== 4) throw new AgentError(ErrorCode.ConfigInvalid, `${where}: ${name} must be an IPv4 address`);
  return ipv4ToInt(value);
}

/**
 * Problems between the registry's config and ours, each naming both sides and what to change.
 * Empty when they agree. `overlay.network`/`overlay.subnet` are checked only when set.
 */
export function checkAgainstOverlay(net: NetworkConfig, overlay: OverlayExpectations, where: string): string[] {
  const problems: string[] = [];
  if (net.vni !== overlay.vni) {
    problems.push(`overlay.vni is ${overlay.vni} but ${where} says Backend.VNI ${net.vni}; every host of a VXLAN overlay must use the same VNI: set overlay.vni: ${net.vni}`);
  }
  const port = net.port === 0 ? KERNEL_VXLAN_PORT : net.port;
  if (port !== overlay.port) {
    problems.push(`overlay.port is ${overlay.port} but ${where} says Backend.Port ${net.port === 0 ? `unset (kernel default ${KERNEL_VXLAN_PORT})` : net.port}; set overlay.port: ${port}`);
  }
  if (overlay.network !== '') {
    const ours = parseCidr(overlay.network);
    const normalized = ours === undefined ? overlay.network : `${intToIpv4(ipv4Range(ours)[0])}/${ours.prefix}`;
    if (normalized !== net.network) problems.push(`overlay.network is ${overlay.network} but ${where} says Network ${net.network}; remove overlay.network or make it match`);
  }
  if (overlay.subnet !== '') {
    const problem = subnetProblem(net, overlay.subnet);
    if (problem !== undefined) problems.push(`overlay.subnet ${overlay.subnet} ${problem} (${where})`);
  }
  return problems;
}

/** Why `subnet` cannot be a lease in this network, or undefined when it can. */
export function subnetProblem(net: NetworkConfig, subnet: string): string | undefined {
  const cidr = parseCidr(subnet);
  if (cidr === undefined || cidr.family !== 4) return 'is not an IPv4 CIDR';
  if (cidr.prefix !== net.subnetLen) return `must be a /${net.subnetLen} (the registry's SubnetLen)`;
  const [start] = ipv4Range(cidr);
  if (start !== ipv4ToInt(cidr.address)) return `is not a network address (did you mean ${intToIpv4(start)}/${cidr.prefix}?)`;
  const netCidr = parseCidr(net.network);
  if (netCidr === undefined) return 'cannot be checked';
  const [first, last] = ipv4Range(netCidr);
  if (start < first || start > last) return `is outside Network ${net.network}`;
  return undefined;
}

/**
 * What every lease must fit, for the peer gate: Network and SubnetLen, and SubnetMin/SubnetMax
 * where the config sets them. flannel's defaults (skip the first subnet) only steer its own
 * choice of a free subnet; a Kubernetes node's podCIDR is often that first subnet.
 */
export function leaseBounds(net: NetworkConfig): NetworkBounds {
  return { network: net.network, subnetLen: net.subnetLen, ...(net.minSet ? { subnetMin: net.subnetMin } : {}), ...(net.maxSet ? { subnetMax: net.subnetMax } : {}) };
}
