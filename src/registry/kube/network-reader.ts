/**
 * Reads flannel's network config for the Kubernetes registry: the kube-flannel-cfg ConfigMap in
 * the first configured namespace that has it, or config.yaml when no namespace is configured;
 * then checks it against the overlay settings (VNI, port, network must agree).
 */
import { AgentError, ErrorCode, errorMessage } from '../../errors.js';
import { isStatus } from '../../kube/api-error.js';
import { resourcePath, type KubeClient } from '../../kube/client.js';
import { checkAgainstOverlay, type NetworkConfig } from '../etcd-network-config.js';
import type { OverlayKubernetesConfig } from './config.js';
import { networkFromConfigMap, networkFromOverlay } from './network-config.js';

export interface NetworkSource {
  net: NetworkConfig;
  /** Where it came from, for status and errors. */
  where: string;
}

export async function readKubeNetworkConfig(client: KubeClient, k: OverlayKubernetesConfig, overlay: { vni: number; port: number; network: string }): Promise<NetworkSource> {
  let found: NetworkSource | undefined;
  const forbidden: string[] = [];
  if (k.configMap.namespaces.length === 0) {
    found = { net: networkFromOverlay(overlay), where: 'overlay.network' };
  } else {
    for (const namespace of k.configMap.namespaces) {
      let object;
      try {
        object = await client.get(resourcePath({ version: 'v1', resource: 'configmaps', namespace, name: k.configMap.name }));
      } catch (err) {
        // Read access is often granted in the one namespace that has it: a refusal elsewhere is no answer.
        if (isStatus(err, 404)) continue;
        if (isStatus(err, 403)) {
          forbidden.push(namespace);
          continue;
        }
        throw err;
      }
      try {
        found = { net: networkFromConfigMap(object), where: `ConfigMap ${namespace}/${k.configMap.name}` };
      } catch (err) {
        throw new AgentError(ErrorCode.ConfigInvalid, errorMessage(err));
      }
      break;
    }
  }
  if (found === undefined) {
    throw new AgentError(
      ErrorCode.ConfigInvalid,
      `ConfigMap ${k.configMap.name} (flannel's net-conf.json) not found in namespace ${k.configMap.namespaces.join(' nor ')}${forbidden.length === 0 ? '' : ` (reading it was forbidden in ${forbidden.join(', ')}: grant get on configmaps/${k.configMap.name} there)`}; set overlay.kubernetes.configMap to where it is, or namespaces: [] with overlay.network`,
    );
  }
  // The podCIDR is checked against Network when it is chosen; SubnetLen does not bind it (see pod-cidr.ts).
  const problems = checkAgainstOverlay(found.net, { vni: overlay.vni, port: overlay.port, network: overlay.network, subnet: '' }, found.where);
  if (problems.length > 0) throw new AgentError(ErrorCode.ConfigInvalid, problems.join('; '));
  return found;
}
