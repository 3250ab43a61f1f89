/** The `identity:` section: its schema and built-in defaults (composed in config/schema.ts). */
import { z } from 'zod';
import { domainName, duration, hostPort } from '../config/schema-types.js';

export const identitySchema = z.strictObject({
  enabled: z.boolean(),
  ca: z.strictObject({
    protocol: z.enum(['istiod', 'citadel']),
    address: hostPort,
    serverName: z.string(),
    rootCert: z.string().min(1),
    tokenFile: z.string(),
    clusterId: z.string(),
  }),
  spiffe: z.strictObject({
    trustDomain: domainName,
    namespace: z.string().min(1),
    serviceAccount: z.string().min(1),
  }),
  certDir: z.string().min(1),
  owner: z.string(),
  key: z.strictObject({ type: z.literal('RSA'), bits: z.number().int().min(2048).max(8192) }),
  ttl: duration.refine((ms) => ms >= 1000, { message: 'must be at least 1s (the CA is asked for this lifetime); write e.g. 24h' }),
  graceRatio: z.number().gt(0).lt(1),
  graceJitter: z.number().min(0).max(0.5),
  onRotate: z.string(),
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
