/**
 * Everything the identity controller asks of the outside world, as one narrow boundary: the CA
 * (a client per attempt, so a reload's new address is used at once), the certificate directory,
 * the clock and the jitter source. The daemon uses the system one (system-boundary.ts); unit
 * tests pass an in-process CA, a store in a temp directory (or one that fails) and a fake clock,
 * so start, rotation, reload, refused answers and error paths run without root.
 */
import type { Clock } from '../agent/clock.js';
import type { IdentityConfig } from '../config/schema.js';
import type { CaClient } from './ca-client.js';
import type { CertStore, CertStoreOptions } from './cert-store.js';

/** What the controller and a rotation do with identity.certDir. */
export type CertFiles = Pick<CertStore, 'read' | 'repair' | 'install'>;

export interface IdentityBoundary {
  /** A client for identity.ca as configured now. */
  caClient(ca: IdentityConfig['ca']): CaClient;
  /** The store of identity.certDir (a new one after a reload changes the directory). */
  certStore(certDir: string, options: CertStoreOptions): CertFiles;
  clock: Clock;
  /** [0, 1) source for the rotation-time and retry jitter. */
  random(): number;
}
