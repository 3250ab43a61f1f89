/**
 * The top-level `kubernetes:` section: one API connection shared by every user of the API (the
 * overlay's Kubernetes registry, ServiceEntries for DNS). Either a kubeconfig, or a server with
 * its CA and a token file. Wiring into the config is two lines: `kubernetes: kubernetesSchema` in
 * the schema and `kubernetes: kubernetesDefaults()` in the defaults.
 */
import { z } from 'zod';
import { duration, key } from '../config/schema-types.js';

export const kubernetesSchema = z
  .strictObject({
    kubeconfig: key(z.string(), { description: 'A kubeconfig file; its current-context (or `context`) names the cluster and the user. Empty: use `server`, `caFile` and `tokenFile`.', example: '/etc/mesh-node-agent/kubeconfig' }),
    context: key(z.string(), { description: 'A context of the kubeconfig other than its current-context.', example: 'mesh-vms' }),
    server: key(z.string(), { description: "Without a kubeconfig: the API server's URL (https only).", example: 'https://10.0.0.10:6443' }),
    caFile: key(z.string(), { description: 'PEM CA bundle for `server`; empty: the system\'s trusted roots.', example: '/etc/mesh-node-agent/kube-ca.crt' }),
    tokenFile: key(z.string(), { description: 'A bearer token file (a ServiceAccount token) for `server`; re-read when it rotates.', example: '/var/run/secrets/tokens/mesh-node-agent' }),
    timeout: key(
      duration.refine((ms) => ms >= 1000 && ms <= 600_000, { message: 'must be between 1s and 10m' }),
      { description: 'Deadline of one API request (a watch has its own, longer one).', example: '10s', type: 'duration, 1s to 10m' },
    ),
  })
  .superRefine((k, ctx) => {
    const issue = (key: string, message: string): void => ctx.addIssue({ code: 'custom', path: [key], message });
    if (k.kubeconfig !== '' && k.server !== '') issue('server', 'set either kubernetes.kubeconfig or kubernetes.server, not both');
    if (k.kubeconfig === '') {
      if (k.context !== '') issue('context', 'a context is chosen from a kubeconfig; set kubernetes.kubeconfig too');
      if (k.server === '' && (k.caFile !== '' || k.tokenFile !== '')) issue('server', 'caFile and tokenFile go with a server; set kubernetes.server, e.g. https://10.0.0.10:6443');
    } else {
      for (const key of ['caFile', 'tokenFile'] as const) {
        if (k[key] !== '') issue(key, 'the kubeconfig names the CA and the credentials; remove this key or drop kubernetes.kubeconfig');
      }
    }
    if (k.server !== '') {
      const problem = serverProblem(k.server);
      if (problem !== undefined) issue('server', problem);
    }
  });

export type KubernetesConfig = z.output<typeof kubernetesSchema>;

/** Defaults in the form users write (the lowest config layer): nothing configured. */
export function kubernetesDefaults(): z.input<typeof kubernetesSchema> {
  return { kubeconfig: '', context: '', server: '', caFile: '', tokenFile: '', timeout: '30s' };
}

/** Whether a connection is configured at all (users of the API refuse to start without one). */
export function kubernetesConfigured(k: KubernetesConfig): boolean {
  return k.kubeconfig !== '' || k.server !== '';
}

/** Why a server URL is unusable, or undefined. Shared by the schema and the kubeconfig parser. */
export function serverProblem(server: string): string | undefined {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return `"${server}" is not a URL; write e.g. https://10.0.0.10:6443`;
  }
  if (url.protocol !== 'https:') return `"${server}" is not https://: the API is only spoken over TLS (a token must not cross the network in clear)`;
  if (url.username !== '' || url.password !== '') return 'credentials in the URL are not supported; use a token or a client certificate';
  if (url.search !== '' || url.hash !== '') return `"${server}" has a query or fragment; give only scheme, host, port and an optional path prefix`;
  return undefined;
}
