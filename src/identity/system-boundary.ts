/** The identity boundary of a real host: gRPC to istiod or Citadel, the certificate directory, wall time. */
import { systemClock } from '../agent/clock.js';
import type { IdentityBoundary } from './boundary.js';
import { createCaClient } from './ca-factory.js';
import { CertStore } from './cert-store.js';

export function systemIdentityBoundary(): IdentityBoundary {
  return {
    caClient: (ca) => createCaClient(ca),
    certStore: (certDir, options) => new CertStore(certDir, options),
    clock: systemClock,
    random: Math.random,
  };
}
