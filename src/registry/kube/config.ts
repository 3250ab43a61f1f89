/**
 * `overlay.kubernetes`: flannel's kube subnet manager as the overlay's registry. The API
 * connection is the top-level `kubernetes:` section (src/kube/config-schema.ts). Hooked into the
 * config with one line each in the schema, the defaults and the cross-field checks.
 */
import { z } from 'zod';
import { duration, key } from '../../config/schema-types.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const nodeName = z.string().refine((v) => v === '' || (v.length <= 253 && DNS_SUBDOMAIN.test(v)), {
  message: 'not a Node name: lower-case letters, digits, "-" and ".", e.g. vm-nginx01 (empty: the hostname)',
});
export const namespaceName = z.string().refine((v) => v.length <= 63 && DNS_LABEL.test(v), { message: 'not a namespace name, e.g. kube-flannel' });

export const overlayKubernetesSchema = z.strictObject({
  enabled: key(z.boolean(), {
    description: "Join flannel's kube subnet manager: this VM registers as a Node (podCIDR, flannel's annotations) and every other Node with flannel's annotations is a peer. Needs the `kubernetes:` connection; not with `overlay.etcd`.",
    example: true,
  }),
  nodeName: key(nodeName, { description: "This VM's Node object; empty: the hostname.", example: 'vm-nginx01', type: 'Node name (DNS subdomain), or empty' }),
  annotationPrefix: key(
    z.string().refine((v) => v.length <= 253 && DNS_SUBDOMAIN.test(v), { message: 'not a DNS prefix, e.g. flannel.alpha.coreos.com' }),
    { description: "flanneld's `--kube-annotation-prefix`: the prefix of the annotations read from and written to Nodes.", example: 'flannel.alpha.coreos.com' },
  ),
  configMap: z.strictObject({
    name: key(z.string().refine((v) => v.length <= 253 && DNS_SUBDOMAIN.test(v), { message: 'not a ConfigMap name' }), {
      description: "The ConfigMap holding flannel's `net-conf.json`.",
      example: 'kube-flannel-cfg',
    }),
    namespaces: key(z.array(namespaceName), {
      description: 'Namespaces searched for the ConfigMap, in order; the first that has it wins. Empty: the network config comes from `overlay.network`.',
      example: ['kube-flannel', 'kube-system'],
    }),
  }),
  allocatorWait: key(
    duration.refine((ms) => ms >= 0 && ms <= 600_000, { message: 'must be between 0s and 10m' }),
    { description: "How long a new Node without podCIDR waits for the cluster's CIDR allocator before the agent chooses a free one.", example: '30s', type: 'duration, 0s to 10m' },
  ),
});

export type OverlayKubernetesConfig = z.output<typeof overlayKubernetesSchema>;

export function overlayKubernetesDefaults(): z.input<typeof overlayKubernetesSchema> {
  return {
    enabled: false,
    nodeName: '',
    annotationPrefix: 'flannel.alpha.coreos.com',
    configMap: { name: 'kube-flannel-cfg', namespaces: ['kube-flannel', 'kube-system'] },
    allocatorWait: '10s',
  };
}

export interface CheckIssue {
  path: (string | number)[];
  message: string;
}

interface Shape {
  kubernetes: { kubeconfig: string; server: string };
  overlay: { enabled: boolean; network: string; etcd: { endpoints: readonly string[] }; kubernetes: OverlayKubernetesConfig };
}

/** Cross-field checks: a connection to use, one registry at a time, a network config to read. */
export function checkOverlayKubernetes(cfg: Shape): CheckIssue[] {
  const k = cfg.overlay.kubernetes;
  if (!k.enabled) return [];
  const issues: CheckIssue[] = [];
  if (cfg.kubernetes.kubeconfig === '' && cfg.kubernetes.server === '') {
    issues.push({ path: ['overlay', 'kubernetes', 'enabled'], message: 'the Kubernetes registry needs the API: set kubernetes.kubeconfig, or kubernetes.server with caFile and tokenFile' });
  }
  if (cfg.overlay.etcd.endpoints.length > 0) {
    issues.push({ path: ['overlay', 'kubernetes', 'enabled'], message: 'flannel runs one registry: either overlay.etcd.endpoints or overlay.kubernetes, not both' });
  }
  if (k.configMap.namespaces.length === 0 && cfg.overlay.network === '') {
    issues.push({ path: ['overlay', 'kubernetes', 'configMap', 'namespaces'], message: "empty, so the network config must come from config.yaml: set overlay.network (flannel's Network, e.g. 10.244.0.0/16)" });
  }
  return issues;
}
