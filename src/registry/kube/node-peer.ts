/**
 * Another host's Node as an overlay peer, read the way flanneld's kube subnet manager reads it
 * (nodeToLease): only Nodes marked `kube-subnet-manager: "true"` count, a `backend-type` other than
 * exactly "vxlan" is skipped, and the peer is spec.podCIDR + `public-ip` + backend-data's VtepMAC.
 * Everything is checked here before the peer gate sees it: a Node that is marked but unreadable
 * becomes an invalid peer, which the gate refuses and reports. Pure.
 */
import { isIPv4 } from 'node:net';
import { isMac } from '../../net/address.js';
import { parseCidr } from '../../net/cidr.js';
import type { Peer } from '../peer-source.js';
import type { FlannelNames } from './annotations.js';

export const SOURCE = 'kubernetes';

/** The parts of a Node the registry reads; anything else in the object is ignored. */
export interface NodeLike {
  metadata: { name: string; resourceVersion: string; creationTimestamp?: unknown; annotations?: Record<string, string> };
  spec?: unknown;
}

// backend-data is a few dozen bytes; a longer value is refused before it is parsed.
const MAX_BACKEND_DATA = 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Go's json.Unmarshal matches field names case-insensitively: read what flanneld reads. */
function field(record: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : record[key];
}

/** Whether the Node takes part in flannel's kube subnet manager at all (flanneld's filter). */
export function isFlannelNode(node: NodeLike, names: FlannelNames): boolean {
  return node.metadata.annotations?.[names.kubeSubnetManager] === 'true';
}

/** spec.podCIDR when it is a string; '' otherwise. */
export function podCIDROf(node: object): string {
  const spec = (node as { spec?: unknown }).spec;
  if (!isRecord(spec)) return '';
  return typeof spec.podCIDR === 'string' ? spec.podCIDR : '';
}

/** The VtepMAC inside backend-data, or why there is none. */
export function vtepMACOf(backendData: string | undefined): { mac: string } | { problem: string } {
  if (backendData === undefined || backendData === '') return { problem: 'no backend-data annotation' };
  if (backendData.length > MAX_BACKEND_DATA) return { problem: `backend-data is longer than ${MAX_BACKEND_DATA} characters` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(backendData);
  } catch {
    return { problem: 'backend-data is not JSON' };
  }
  if (!isRecord(parsed)) return { problem: 'backend-data is not a JSON object' };
  const mac = field(parsed, 'VtepMAC');
  if (typeof mac !== 'string' || !isMac(mac)) return { problem: 'backend-data has no valid VtepMAC' };
  return { mac: mac.toLowerCase() };
}

/** Claim order: the Node's creation time in seconds (earlier Nodes win a contested subnet, MAC or IP). */
function creationOrder(node: NodeLike): number {
  const ts = node.metadata.creationTimestamp;
  const ms = typeof ts === 'string' ? Date.parse(ts) : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : Number.MAX_SAFE_INTEGER;
}

/**
 * The peer a Node stands for, or undefined when flanneld would skip it too (not marked, or not
 * vxlan). `revision` is left to the caller (the version at which these facts last changed).
 */
export function nodeToPeer(node: NodeLike, names: FlannelNames): Peer | undefined {
  if (!isFlannelNode(node, names)) return undefined;
  const annotations = node.metadata.annotations ?? {};
  if (annotations[names.backendType] !== 'vxlan') return undefined;
  const key = node.metadata.name;
  const order = creationOrder(node);
  const podCIDR = podCIDROf(node);
  const publicIP = annotations[names.publicIP] ?? '';
  const mac = vtepMACOf(annotations[names.backendData]);
  const base = { source: SOURCE, key, order };
  const cidr = parseCidr(podCIDR);
  const problem =
    podCIDR === '' ? 'the Node has no spec.podCIDR' :
    cidr?.family !== 4 ? `spec.podCIDR ${JSON.stringify(podCIDR.slice(0, 64))} is not an IPv4 CIDR` :
    !isIPv4(publicIP) ? `public-ip ${JSON.stringify(publicIP.slice(0, 64))} is not an IPv4 address` :
    'problem' in mac ? mac.problem :
    undefined;
  if (problem !== undefined) {
    return { ...base, subnet: cidr?.family === 4 ? podCIDR : '', publicIP: isIPv4(publicIP) ? publicIP : '', vtepMAC: 'mac' in mac ? mac.mac : '', invalid: `Node ${key}: ${problem}` };
  }
  return { ...base, subnet: podCIDR, publicIP, vtepMAC: 'mac' in mac ? mac.mac : '' };
}

/** The facts of a peer that matter to the kernel and the gate (a status heartbeat changes none). */
export function peerFingerprint(peer: Peer | undefined): string {
  return peer === undefined ? '' : `${peer.subnet}|${peer.publicIP}|${peer.vtepMAC}|${peer.order ?? ''}|${peer.invalid ?? ''}`;
}
