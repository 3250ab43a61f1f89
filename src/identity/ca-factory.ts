/** Picks the CA client and its TLS server name from identity.ca. */
import type { IdentityConfig } from '../config/schema.js';
import { parseHostPort } from '../net/host-port.js';
import type { CaClient } from './ca-client.js';
import { CITADEL_SERVER_NAME, createCitadelClient } from './ca-client-citadel.js';
import { createIstiodClient } from './ca-client-istiod.js';

export const CA_CALL_TIMEOUT_MS = 15_000;

export function caServerName(ca: IdentityConfig['ca']): string {
  if (ca.serverName !== '') return ca.serverName;
  if (ca.protocol === 'citadel') return CITADEL_SERVER_NAME;
  const host = parseHostPort(ca.address)?.host ?? ca.address;
  // pilot-agent maps localhost (a port-forward) to istiod's service name, which its certificate carries.
  return host === 'localhost' ? 'istiod.istio-system.svc' : host;
}

export function createCaClient(ca: IdentityConfig['ca']): CaClient {
  const endpoint = { address: ca.address, serverName: caServerName(ca), timeoutMs: CA_CALL_TIMEOUT_MS };
  return ca.protocol === 'citadel' ? createCitadelClient(endpoint) : createIstiodClient({ ...endpoint, clusterId: ca.clusterId });
}
