/**
 * This VM's Node (pure): what it must look like and the one request that gets it there. The Node
 * carries the flannel annotations (so flanneld on every node programs the way back), the owner
 * annotation naming this VM's identity (the agent never takes over a Node it does not own), the
 * mesh-VM label, a NoSchedule taint and no `kubernetes.io/os` label (so neither ordinary pods
 * nor DaemonSets selecting an OS are placed on a host that runs no kubelet).
 */
import { OWNER_ANNOTATION, VM_LABEL, VM_TAINT } from './annotations.js';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  [field: string]: unknown;
}

/** The parts of an existing Node the plan reads. */
export interface ExistingNode {
  metadata: { name: string; resourceVersion: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
}

export interface DesiredNode {
  name: string;
  /** This VM's identity (stateDir/kube-node-owner). */
  owner: string;
  /** The flannel annotations (ownAnnotations). */
  annotations: Record<string, string>;
  /** The podCIDR to write when the Node has none ('' = leave unset). */
  podCIDR: string;
}

export type NodePlan =
  | { kind: 'create'; body: Record<string, unknown> }
  | { kind: 'patch'; patch: Record<string, unknown>; what: string[] }
  | { kind: 'ok' }
  | { kind: 'foreign'; reason: string };

export const OUR_TAINT: Taint = { key: VM_TAINT, value: 'true', effect: 'NoSchedule' };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function taintsOf(spec: unknown): Taint[] {
  const taints = isRecord(spec) ? spec.taints : undefined;
  if (!Array.isArray(taints)) return [];
  return taints.filter((t): t is Taint => isRecord(t) && typeof t.key === 'string' && typeof t.effect === 'string');
}

function podCIDROf(spec: unknown): string {
  return isRecord(spec) && typeof spec.podCIDR === 'string' ? spec.podCIDR : '';
}

/** Why the Node is not ours to touch, or undefined when it is (our owner annotation). */
export function foreignReason(node: ExistingNode, owner: string): string | undefined {
  const recorded = node.metadata.annotations?.[OWNER_ANNOTATION];
  if (recorded === owner) return undefined;
  const name = node.metadata.name;
  if (recorded === undefined || recorded === '') {
    return `Node ${name} exists and was not registered by mesh-node-agent (a kubelet's, or made by hand); the agent never takes over another host's Node: set overlay.kubernetes.nodeName to a free name, or delete that Node if it is stale`;
  }
  return `Node ${name} is registered by another mesh-node-agent host (owner ${recorded}); the agent never takes it over: set overlay.kubernetes.nodeName to another name (if this VM is that host and lost its stateDir, delete the Node by hand)`;
}

export function nodeManifest(desired: DesiredNode): Record<string, unknown> {
  const spec: Record<string, unknown> = { taints: [OUR_TAINT] };
  if (desired.podCIDR !== '') {
    spec.podCIDR = desired.podCIDR;
    spec.podCIDRs = [desired.podCIDR];
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: desired.name,
      labels: { [VM_LABEL]: 'true' },
      annotations: { ...desired.annotations, [OWNER_ANNOTATION]: desired.owner },
    },
    spec,
  };
}

/**
 * What to send: create when absent; refuse a Node we do not own; otherwise one strategic-merge
 * patch carrying only what differs. The patch names the resourceVersion it was planned from, so a
 * concurrent writer (the node lifecycle controller adding a taint) makes it fail with 409 instead
 * of being overwritten: taints are a list the patch replaces.
 */
export function planOwnNode(existing: ExistingNode | undefined, desired: DesiredNode): NodePlan {
  if (existing === undefined) return { kind: 'create', body: nodeManifest(desired) };
  const foreign = foreignReason(existing, desired.owner);
  if (foreign !== undefined) return { kind: 'foreign', reason: foreign };
  const what: string[] = [];
  const metadata: Record<string, unknown> = {};
  const spec: Record<string, unknown> = {};
  const have = existing.metadata.annotations ?? {};
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(desired.annotations)) {
    if (have[key] !== value) {
      annotations[key] = value;
      what.push(key);
    }
  }
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  if (existing.metadata.labels?.[VM_LABEL] !== 'true') {
    metadata.labels = { [VM_LABEL]: 'true' };
    what.push(`label ${VM_LABEL}`);
  }
  const taints = taintsOf(existing.spec);
  if (!taints.some((t) => t.key === OUR_TAINT.key && t.effect === OUR_TAINT.effect)) {
    spec.taints = [...taints, OUR_TAINT];
    what.push(`taint ${VM_TAINT}:NoSchedule`);
  }
  if (podCIDROf(existing.spec) === '' && desired.podCIDR !== '') {
    spec.podCIDR = desired.podCIDR;
    spec.podCIDRs = [desired.podCIDR];
    what.push('spec.podCIDR');
  }
  if (what.length === 0) return { kind: 'ok' };
  const patch: Record<string, unknown> = { metadata: { ...metadata, resourceVersion: existing.metadata.resourceVersion } };
  if (Object.keys(spec).length > 0) patch.spec = spec;
  return { kind: 'patch', patch, what };
}
