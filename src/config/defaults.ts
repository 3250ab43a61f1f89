import { serviceEntriesKubeDefaults } from '../dns/service-entries-kube-config.js';
import { kubernetesDefaults } from '../kube/config-schema.js';
import { overlayKubernetesDefaults } from '../registry/kube/config.js';

/** Built-in defaults, in the form users write (DESIGN.md "Config"); the lowest layer. */
export const DEFAULT_STATUS_PORT = 15030;

export function defaultConfig(): Record<string, unknown> {
  return {
    stateDir: '/var/lib/mesh-node-agent',
    log: { level: 'info' },
    istio: {
      clusterEnv: '/var/lib/istio/envoy/cluster.env',
      sidecarEnv: '/var/lib/istio/envoy/sidecar.env',
    },
    status: { listen: `127.0.0.1:${DEFAULT_STATUS_PORT}`, allowRemote: false },
    kubernetes: kubernetesDefaults(),
    identity: {
      enabled: true,
      ca: {
        protocol: 'istiod',
        address: 'istiod.istio-system.svc:15012',
        serverName: '',
        rootCert: '/etc/certs/root-cert.pem',
        tokenFile: '/var/run/secrets/tokens/istio-token',
        clusterId: 'Kubernetes',
      },
      spiffe: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'default' },
      certDir: '/etc/certs',
      owner: 'istio-proxy',
      key: { type: 'RSA', bits: 2048 },
      ttl: '24h',
      graceRatio: 0.5,
      graceJitter: 0.01,
      onRotate: '',
    },
    overlay: {
      enabled: false,
      vni: 1,
      port: 8472,
      device: '',
      underlay: { interface: '', address: '' },
      network: '',
      subnet: '',
      mtu: 0,
      peers: [],
      etcd: {
        endpoints: [],
        prefix: '/coreos.com/network',
        tls: { ca: '', cert: '', key: '' },
        register: true,
      },
      kubernetes: overlayKubernetesDefaults(),
      resync: '30s',
    },
    capture: {
      enabled: false,
      inboundPorts: '',
      localExcludePorts: [22],
      serviceCIDRs: [],
      serviceExcludeCIDRs: [],
      proxyUser: 'istio-proxy',
      agentGroup: 'mesh-node-agent',
      outboundPort: 15001,
      inboundPort: 15006,
      dns: false,
      cleanupOnStop: true,
      resync: '30s',
    },
    dns: {
      enabled: false,
      listen: ['127.0.0.1:53'],
      allowRemote: false,
      upstreams: [],
      hosts: [],
      forward: [],
      serviceEntries: { paths: [], autoAllocate: '240.240.0.0/16', ...serviceEntriesKubeDefaults() },
      ttl: 30,
      cache: { size: 10000, maxTTL: 3600, negativeTTL: 30 },
    },
  };
}
