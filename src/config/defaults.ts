/** Built-in defaults, in the form users write; the lowest layer. Each section's come from beside its controller. */
import { captureDefaults } from '../capture/config-schema.js';
import { dnsDefaults } from '../dns/config-schema.js';
import { identityDefaults } from '../identity/config-schema.js';
import { kubernetesDefaults } from '../kube/config-schema.js';
import { overlayDefaults } from '../overlay/config-schema.js';
import { statusDefaults } from '../status/config-schema.js';

export function defaultConfig(): Record<string, unknown> {
  return {
    stateDir: '/var/lib/mesh-node-agent',
    log: { level: 'info' },
    istio: {
      clusterEnv: '/var/lib/istio/envoy/cluster.env',
      sidecarEnv: '/var/lib/istio/envoy/sidecar.env',
    },
    status: statusDefaults(),
    kubernetes: kubernetesDefaults(),
    identity: identityDefaults(),
    overlay: overlayDefaults(),
    capture: captureDefaults(),
    dns: dnsDefaults(),
  };
}
