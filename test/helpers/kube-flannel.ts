/**
 * Plays flannel's part in a real API server: the kube-flannel-cfg ConfigMap, and Nodes annotated
 * exactly as flanneld v0.20 annotates its own (literal strings from the reference, not the agent's
 * encoder), with the kubelet-ish annotation flanneld needs to find on its Node.
 */
import { KubeApiError } from '../../src/kube/api-error.js';
import { resourcePath, type KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/objects.js';
import { NODES } from './kube-fixtures.js';
import type { PolicyRule } from './kube-fixtures.js';

export const FLANNEL = 'flannel.alpha.coreos.com';
export const NET_CONF = '{\n  "Network": "10.244.0.0/16",\n  "Backend": {\n    "Type": "vxlan"\n  }\n}\n';

/** The registry's rules for a VM that may patch and delete any Node (tests that use many names). */
export const REGISTRY_RULES: PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['kube-flannel-cfg'] },
];

/** The rules docs/kubernetes.md gives one VM: patch and delete only on its own Node. */
export function vmRegistryRules(nodeName: string): PolicyRule[] {
  return [
    { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'create'] },
    { apiGroups: [''], resources: ['nodes'], verbs: ['patch', 'delete'], resourceNames: [nodeName] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['kube-flannel-cfg'] },
  ];
}

export function flannelAnnotations(publicIP: string, vtepMAC: string, vni = 1): Record<string, string> {
  return {
    [`${FLANNEL}/backend-data`]: `{"VNI":${vni},"VtepMAC":"${vtepMAC}"}`,
    [`${FLANNEL}/backend-type`]: 'vxlan',
    [`${FLANNEL}/kube-subnet-manager`]: 'true',
    [`${FLANNEL}/public-ip`]: publicIP,
    'node.alpha.kubernetes.io/ttl': '0',
  };
}

/** A flannel node's Node: podCIDR set (as the allocator would), annotations as flanneld writes them. */
export function flannelNodeManifest(name: string, podCIDR: string, publicIP: string, vtepMAC: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': name }, annotations: flannelAnnotations(publicIP, vtepMAC) },
    spec: { podCIDR, podCIDRs: [podCIDR] },
  };
}

async function ensure(api: KubeClient, path: string, body: unknown): Promise<void> {
  try {
    await api.create(path, body);
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 409)) throw err;
  }
}

/** The namespace and kube-flannel-cfg ConfigMap of the kube-flannel manifest. */
export async function createNetConf(api: KubeClient, namespace = 'kube-flannel', netConf = NET_CONF): Promise<void> {
  await ensure(api, resourcePath({ version: 'v1', resource: 'namespaces' }), { metadata: { name: namespace } });
  const path = resourcePath({ version: 'v1', resource: 'configmaps', namespace });
  try {
    await api.create(path, { metadata: { name: 'kube-flannel-cfg', labels: { app: 'flannel' } }, data: { 'cni-conf.json': '{"name":"cbr0","cniVersion":"0.3.1"}', 'net-conf.json': netConf } });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 409)) throw err;
    await api.patch(`${path}/kube-flannel-cfg`, { data: { 'net-conf.json': netConf } });
  }
}

export async function getNode(api: KubeClient, name: string): Promise<KubeObject | undefined> {
  try {
    return await api.get(`${NODES}/${name}`);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

export async function deleteNode(api: KubeClient, name: string): Promise<void> {
  try {
    await api.delete(`${NODES}/${name}`);
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 404)) throw err;
  }
}
