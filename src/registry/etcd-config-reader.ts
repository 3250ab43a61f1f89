/** Reads `<prefix>/config` and checks it against the overlay config (thin shell over the pure parser). */
import type { Etcd3 } from 'etcd3';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { configKey } from './etcd-lease-format.js';
import { checkAgainstOverlay, parseNetworkConfig, type NetworkConfig, type OverlayExpectations } from './etcd-network-config.js';

/**
 * The registry's network config. A missing or invalid config, or one that disagrees with ours
 * (VNI, port, network, subnet), is an AgentError(MNA_CONFIG_INVALID) that says what to change;
 * an unreachable etcd rejects with the client's error.
 */
export async function readNetworkConfig(client: Etcd3, prefix: string, overlay: OverlayExpectations): Promise<NetworkConfig> {
  const key = configKey(prefix);
  const text = await client.get(key).string();
  if (text === null) {
    throw new AgentError(ErrorCode.ConfigInvalid, `etcd key ${key} is missing: flannel's network is not configured under overlay.etcd.prefix ${prefix}; check the prefix (flanneld --etcd-prefix)`);
  }
  let net: NetworkConfig;
  try {
    net = parseNetworkConfig(text, `etcd key ${key}`);
  } catch (err) {
    throw new AgentError(ErrorCode.ConfigInvalid, errorMessage(err));
  }
  const problems = checkAgainstOverlay(net, overlay, `etcd key ${key}`);
  if (problems.length > 0) throw new AgentError(ErrorCode.ConfigInvalid, problems.join('; '));
  return net;
}
