/**
 * The `identity:` section: its schema (each key documented; docs/config.md is generated from it)
 * and built-in defaults, composed in config/schema.ts. Behaviour: docs/identity.md.
 */
import { z } from 'zod';
import { domainName, durationAtLeast, hostPort, key } from '../config/schema-types.js';

export const identitySchema = z.strictObject({
  enabled: key(z.boolean(), { description: 'Run the identity controller: keep a workload certificate for this VM in `certDir`, rotated against the CA.', example: false }),
  ca: z.strictObject({
    protocol: key(z.enum(['istiod', 'citadel']), {
      description: "The CA's protocol: `istiod` (`CreateCertificate` on :15012) or `citadel` (legacy `HandleCSR` on :8060).",
      example: 'citadel',
    }),
    address: key(hostPort, {
      description: "The CA's address: istiod serves certificates on port 15012, Citadel on 8060.",
      example: 'istio-citadel.istio-system.svc:8060',
    }),
    serverName: key(z.string(), {
      description: "TLS name checked on the CA's certificate. Empty: for istiod the host part of `address` (`localhost` becomes `istiod.istio-system.svc`), for Citadel `istio-citadel`.",
      example: 'istiod.istio-system.svc',
    }),
    rootCert: key(z.string().min(1), {
      description: "The mesh root (PEM, may be a bundle): verifies the CA's TLS certificate and every answer. A plain file owned by root, not group/other-writable, in a directory only root can write.",
      example: '/etc/certs/root-cert.pem',
    }),
    tokenFile: key(z.string(), { description: 'A bearer JWT sent to the CA when the file exists and is not empty.', example: '/var/run/secrets/tokens/istio-token' }),
    clusterId: key(z.string(), { description: 'Sent as `ClusterID` gRPC metadata.', example: 'Kubernetes' }),
  }),
  spiffe: z.strictObject({
    trustDomain: key(domainName, { description: 'The trust domain of the identity `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.', example: 'cluster.local' }),
    namespace: key(z.string().min(1), { description: "The workload's namespace in its SPIFFE identity.", example: 'vm-workloads' }),
    serviceAccount: key(z.string().min(1), { description: "The workload's service account in its SPIFFE identity.", example: 'deb-nginx' }),
  }),
  certDir: key(z.string().min(1), {
    description: 'Where `key.pem`, `cert-chain.pem` and `root-cert.pem` are installed; made root\'s at start (docs/identity.md "Trust boundaries").',
    example: '/etc/certs',
  }),
  owner: key(z.string(), {
    description: 'The user (name or uid) `key.pem` is handed to; everything else in certDir stays root\'s. Empty, or an unknown user: the key keeps the agent\'s ownership (with a warning).',
    example: 'istio-proxy',
  }),
  key: z.strictObject({
    type: key(z.literal('RSA'), { description: 'The private key type; only RSA.', example: 'RSA' }),
    bits: key(z.number().int().min(2048).max(8192), { description: 'RSA key size.', example: 4096 }),
  }),
  ttl: key(durationAtLeast(1000, 'must be at least 1s (the CA is asked for this lifetime); write e.g. 24h'), {
    description: 'The certificate lifetime asked of the CA (it may shorten it); at least 1s.',
    example: '12h',
  }),
  graceRatio: key(z.number().gt(0).lt(1), { description: 'Rotate when this fraction of the lifetime is left.', example: 0.3 }),
  graceJitter: key(z.number().min(0).max(0.5), { description: 'Random ± jitter on `graceRatio`, so VMs do not rotate in step.', example: 0.05 }),
  onRotate: key(z.string(), {
    description: 'A shell command run after each install that changed a file (with `MNA_CERT_DIR` and `MNA_SPIFFE_ID` set; 30 s to finish; its traffic is captured like any root process\'s). A failure is logged and does not undo the install.',
    example: 'systemctl kill -s HUP envoy',
  }),
});

export function identityDefaults(): z.input<typeof identitySchema> {
  return {
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
  };
}
