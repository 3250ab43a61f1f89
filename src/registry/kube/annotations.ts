/**
 * flannel's Node annotations (its kube subnet manager) and the agent's own marks on the Node it
 * registers, byte for byte as flanneld writes them: `backend-data` is Go's json.Marshal of
 * `{VNI uint16; VtepMAC hardwareAddr}`, the MAC in lower case. Pure.
 */
import { isIPv4 } from 'node:net';

/** flanneld's `--kube-annotation-prefix` default. */
export const FLANNEL_PREFIX = 'flannel.alpha.coreos.com';

/** The agent's marks: the label and taint every mesh VM's Node carries, and its owner. */
export const VM_LABEL = 'mesh-node-agent.io/vm';
export const VM_TAINT = 'mesh-node-agent.io/vm';
export const OWNER_ANNOTATION = 'mesh-node-agent.io/owner';

export interface FlannelNames {
  kubeSubnetManager: string;
  backendType: string;
  backendData: string;
  publicIP: string;
  publicIPOverwrite: string;
}

export function flannelNames(prefix: string = FLANNEL_PREFIX): FlannelNames {
  const p = prefix.replace(/\/+$/, '');
  return {
    kubeSubnetManager: `${p}/kube-subnet-manager`,
    backendType: `${p}/backend-type`,
    backendData: `${p}/backend-data`,
    publicIP: `${p}/public-ip`,
    publicIPOverwrite: `${p}/public-ip-overwrite`,
  };
}

/** `{"VNI":1,"VtepMAC":"fe:3f:4a:8c:74:a4"}`: field order, no spaces, lower-case MAC. */
export function encodeBackendData(vni: number, vtepMAC: string): string {
  return JSON.stringify({ VNI: vni, VtepMAC: vtepMAC.toLowerCase() });
}

export interface OwnFacts {
  publicIP: string;
  vni: number;
  vtepMAC: string;
}

/**
 * The flannel annotations this VM's Node must carry. As flanneld does, a valid
 * `public-ip-overwrite` set by an operator is what `public-ip` advertises (behind NAT); one that
 * is not an IPv4 address is ignored (it would otherwise reach every host's FDB), and reported.
 */
export function ownAnnotations(names: FlannelNames, facts: OwnFacts, existing: Readonly<Record<string, string>> = {}): { annotations: Record<string, string>; overwrite?: string; badOverwrite?: string } {
  const overwrite = existing[names.publicIPOverwrite];
  const usable = overwrite !== undefined && overwrite !== '' && isIPv4(overwrite);
  const annotations = {
    [names.backendType]: 'vxlan',
    [names.backendData]: encodeBackendData(facts.vni, facts.vtepMAC),
    [names.publicIP]: usable ? overwrite : facts.publicIP,
    [names.kubeSubnetManager]: 'true',
  };
  return {
    annotations,
    ...(usable ? { overwrite } : {}),
    ...(overwrite !== undefined && overwrite !== '' && !usable ? { badOverwrite: overwrite } : {}),
  };
}
