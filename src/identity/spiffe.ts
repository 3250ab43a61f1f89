/** SPIFFE identities in Istio's format: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>. */
import type { IdentityConfig } from '../config/schema.js';

export function spiffeId(spiffe: IdentityConfig['spiffe']): string {
  return `spiffe://${spiffe.trustDomain}/ns/${spiffe.namespace}/sa/${spiffe.serviceAccount}`;
}

/** The identity a certificate carries, chosen like Istio's node_agent: the only SAN, else the first spiffe:// one. */
export function pickSpiffeId(uris: readonly string[]): string | undefined {
  return uris.find((uri) => uri.startsWith('spiffe://'));
}
