/**
 * `overlay.etcd`: flannel's etcd registry as a peer source and this host's lease. Its schema,
 * defaults and cross-field checks (pure), so `check-config` catches what would otherwise only fail
 * when the overlay starts.
 */
import { z } from 'zod';
import type { CheckIssue } from '../config/check-issue.js';
import { key } from '../config/schema-types.js';

export const etcdSchema = z.strictObject({
  endpoints: key(z.array(z.string().url({ message: 'not a URL; write e.g. http://10.0.0.1:2379' })), {
    description: "flannel's etcd (`http://` or `https://` URLs). Empty: no registry; peers come from `overlay.peers` only. Use `https://` with client certificates: on plaintext anyone on the path can read and rewrite leases.",
    example: ['https://10.0.0.10:2379'],
    type: 'list of URLs',
  }),
  prefix: key(z.string().startsWith('/', { message: 'must start with /' }), {
    description: "flanneld's `--etcd-prefix`: the network config is read at `<prefix>/config`, leases live under `<prefix>/subnets/`.",
    example: '/coreos.com/network',
  }),
  tls: z.strictObject({
    ca: key(z.string(), { description: 'PEM CA that signed the etcd server certificate; required for TLS (an `https://` endpoint or a client certificate).', example: '/etc/etcd/ca.pem' }),
    cert: key(z.string(), { description: 'Client certificate (PEM) for etcd client authentication; goes with `tls.key`.', example: '/etc/etcd/client.pem' }),
    key: key(z.string(), { description: 'Private key (PEM) of `tls.cert`.', example: '/etc/etcd/client-key.pem' }),
  }),
  register: key(z.boolean(), {
    description: "Publish this VM's lease under `<prefix>/subnets/`, so flanneld on every node programs the way back. `false` needs `overlay.subnet`.",
    example: false,
  }),
});

export function etcdDefaults(): z.input<typeof etcdSchema> {
  return {
    endpoints: [],
    prefix: '/coreos.com/network',
    tls: { ca: '', cert: '', key: '' },
    register: true,
  };
}

interface RegistryShape {
  enabled: boolean;
  subnet: string;
  etcd: { endpoints: readonly string[]; register: boolean; tls: { ca: string; cert: string; key: string } };
}

export function checkRegistry(o: RegistryShape): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const { etcd } = o;
  if (etcd.endpoints.length === 0) return issues;
  if (o.enabled && !etcd.register && o.subnet === '') {
    issues.push({ path: ['overlay', 'subnet'], message: "required when overlay.etcd.register is false: this host's subnet, e.g. 10.234.3.0/24 (or set register: true to acquire a lease)" });
  }
  if ((etcd.tls.cert === '') !== (etcd.tls.key === '')) {
    issues.push({ path: ['overlay', 'etcd', 'tls', etcd.tls.cert === '' ? 'cert' : 'key'], message: 'client authentication needs both tls.cert and tls.key (or neither)' });
  }
  const https = etcd.endpoints.some((e) => e.startsWith('https:'));
  if ((https || etcd.tls.cert !== '') && etcd.tls.ca === '') {
    issues.push({ path: ['overlay', 'etcd', 'tls', 'ca'], message: 'required for TLS to etcd: the CA that signed the etcd server certificate' });
  }
  etcd.endpoints.forEach((e, i) => {
    if (!/^https?:\/\//.test(e)) issues.push({ path: ['overlay', 'etcd', 'endpoints', i], message: `${e}: use http:// or https://` });
  });
  return issues;
}

/**
 * Valid but worth saying: a plaintext etcd endpoint lets anyone on the path read and rewrite leases,
 * which the peer gate can only partly contain (docs/security.md).
 */
export function registryWarnings(o: RegistryShape): CheckIssue[] {
  if (!o.enabled) return [];
  return o.etcd.endpoints.flatMap((e, i) =>
    e.startsWith('http://') ? [{ path: ['overlay', 'etcd', 'endpoints', i], message: `${e} is plaintext: anyone on the path can read and rewrite leases; use https:// with overlay.etcd.tls (client certificates)` }] : [],
  );
}
