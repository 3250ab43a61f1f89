/**
 * flannel's lease records in etcd, byte for byte: the key `<prefix>/subnets/10.234.3.0-24` and the
 * JSON value flanneld (v0.18+, etcd v3 API) writes. Pure: no I/O.
 */
import { isIPv4 } from 'node:net';
import { isMac } from '../net/address.js';
import { parseCidr } from '../net/cidr.js';
import type { Peer } from './peer-source.js';
import { AgentError, ErrorCode } from '../errors.js';

/** What a lease value says about its host (flannel's LeaseAttrs, IPv4 part). */
export interface LeaseAttrs {
  publicIP: string;
  vni: number;
  vtepMAC: string;
  backendType: string;
}

export function subnetsPrefix(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/subnets/`;
}

export function configKey(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/config`;
}

/** `10.234.3.0/24` → `<prefix>/subnets/10.234.3.0-24` (flannel's MakeSubnetKey). */
export function subnetKey(prefix: string, subnet: string): string {
  return `${subnetsPrefix(prefix)}${subnet.replace('/', '-')}`;
}

/**
 * The subnet a lease key names, or undefined for keys that are not IPv4 leases. A dual-stack key
 * (`10.5.52.0-24&fc00::-64`) yields its IPv4 part, as flannel's ParseSubnetKey does.
 */
export function subnetFromKey(prefix: string, key: string): string | undefined {
  const base = subnetsPrefix(prefix);
  if (!key.startsWith(base)) return undefined;
  const match = /^(\d+\.\d+\.\d+\.\d+)-(\d+)(?:&[0-9a-f:]+-\d+)?$/.exec(key.slice(base.length));
  if (match === null) return undefined;
  const subnet = `${match[1]}/${match[2]}`;
  return parseCidr(subnet)?.family === 4 ? subnet : undefined;
}

/**
 * The value exactly as flanneld marshals LeaseAttrs for an IPv4 VXLAN host: field order and
 * `"PublicIPv6":null` included, BackendType in lower case (flanneld ignores "VXLAN").
 */
export function encodeLease(attrs: { publicIP: string; vni: number; vtepMAC: string }): string {
  return JSON.stringify({
    PublicIP: attrs.publicIP,
    PublicIPv6: null,
    BackendType: 'vxlan',
    BackendData: { VNI: attrs.vni, VtepMAC: attrs.vtepMAC.toLowerCase() },
  });
}

function field(record: Record<string, unknown>, name: string): unknown {
  // Go's json.Unmarshal matches keys case-insensitively; so do we, to read what flanneld reads.
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : record[key];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a lease value; throws an Error saying what is wrong (callers skip and count such leases). */
export function decodeLease(value: string): LeaseAttrs {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new AgentError(ErrorCode.EtcdLeaseInvalid, 'lease value is not JSON');
  }
  if (!isRecord(parsed)) throw new AgentError(ErrorCode.EtcdLeaseInvalid, 'lease value is not a JSON object');
  const publicIP = field(parsed, 'PublicIP');
  if (typeof publicIP !== 'string' || !isIPv4(publicIP)) throw new AgentError(ErrorCode.EtcdLeaseInvalid, 'lease has no IPv4 PublicIP');
  const backendType = field(parsed, 'BackendType');
  if (typeof backendType !== 'string') throw new AgentError(ErrorCode.EtcdLeaseInvalid, 'lease has no BackendType');
  const data = field(parsed, 'BackendData');
  const vtepMAC = isRecord(data) ? field(data, 'VtepMAC') : undefined;
  const vni = isRecord(data) ? field(data, 'VNI') : undefined;
  if (backendType === 'vxlan' && (typeof vtepMAC !== 'string' || !isMac(vtepMAC))) throw new AgentError(ErrorCode.EtcdLeaseInvalid, 'vxlan lease has no valid BackendData.VtepMAC');
  return {
    publicIP,
    backendType,
    vtepMAC: typeof vtepMAC === 'string' ? vtepMAC.toLowerCase() : '',
    vni: typeof vni === 'number' ? vni : 0,
  };
}

/**
 * A lease as a peer, or undefined when flanneld would not program it either: BackendType other than
 * exactly "vxlan" is skipped (flanneld compares case-sensitively).
 */
export function leaseToPeer(subnet: string, attrs: LeaseAttrs): Peer | undefined {
  if (attrs.backendType !== 'vxlan') return undefined;
  return { subnet, publicIP: attrs.publicIP, vtepMAC: attrs.vtepMAC, source: 'etcd' };
}
