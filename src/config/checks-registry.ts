/**
 * Cross-field checks of overlay.etcd (pure), so `check-config` catches what would otherwise only
 * fail when the overlay starts.
 */
export interface CheckIssue {
  path: (string | number)[];
  message: string;
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
