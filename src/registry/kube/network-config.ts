/**
 * flannel's network config in a kube-subnet-manager cluster: the `net-conf.json` key of the
 * `kube-flannel-cfg` ConfigMap (what flanneld reads from its mounted file), with the same JSON and
 * defaults as the etcd `config` key; or, when the agent is told not to read it, built from
 * config.yaml's overlay.network, vni and port. Pure.
 */
import { AgentError, ErrorCode } from '../../errors.js';
import { parseNetworkConfig, type NetworkConfig } from '../etcd-network-config.js';
import type { NetworkBounds } from '../peer-source.js';

export const NET_CONF_KEY = 'net-conf.json';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The ConfigMap's net-conf.json parsed; throws an Error naming the ConfigMap and the problem. */
export function networkFromConfigMap(configMap: { metadata: { name: string; namespace?: string }; data?: unknown }): NetworkConfig {
  const where = `ConfigMap ${configMap.metadata.namespace ?? ''}/${configMap.metadata.name} key ${NET_CONF_KEY}`;
  const data = configMap.data;
  const text = isRecord(data) ? data[NET_CONF_KEY] : undefined;
  if (typeof text !== 'string') throw new AgentError(ErrorCode.ConfigInvalid, `${where} is missing; flanneld reads its network config from there`);
  return parseNetworkConfig(text, where);
}

/** The network config config.yaml describes (overlay.network with flannel's defaults, our VNI and port). */
export function networkFromOverlay(overlay: { network: string; vni: number; port: number }): NetworkConfig {
  const json = JSON.stringify({ Network: overlay.network, Backend: { Type: 'vxlan', VNI: overlay.vni, Port: overlay.port === 8472 ? 0 : overlay.port } });
  return parseNetworkConfig(json, 'overlay.network');
}

/**
 * What a Node's podCIDR must fit for the peer gate. flanneld's kube subnet manager checks only
 * that a podCIDR lies inside Network (the cluster's CIDR allocator picks its length), so no
 * SubnetLen or range is imposed here.
 */
export function podCIDRBounds(net: NetworkConfig): NetworkBounds {
  return { network: net.network };
}
