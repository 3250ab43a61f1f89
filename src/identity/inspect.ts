/** Reads what the installed files amount to: the scheduler's view and the /status summary. Pure. */
import type { X509Certificate } from 'node:crypto';
import type { StoredFiles } from './cert-store.js';
import { parseCertificates, uriSans } from './pem.js';
import type { Assessment } from './schedule.js';
import { pickSpiffeId } from './spiffe.js';
import { keyMatchesCert } from './verify.js';

export interface InstalledInfo {
  spiffeId?: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  issuedAt: number;
}

export interface Inspection {
  assessment: Assessment;
  info?: InstalledInfo;
  leaf?: X509Certificate;
}

export function inspectStored(files: StoredFiles, expectedId: string, now: number): Inspection {
  if (files.keyPem === undefined || files.chainPem === undefined) {
    const missing = [files.keyPem === undefined ? 'key.pem' : '', files.chainPem === undefined ? 'cert-chain.pem' : ''].filter((s) => s !== '');
    return { assessment: { state: 'missing', reason: `${missing.join(' and ')} not installed` } };
  }
  let leaf: X509Certificate | undefined;
  try {
    leaf = parseCertificates(files.chainPem, 'cert-chain.pem')[0];
  } catch (err) {
    return { assessment: { state: 'unreadable', reason: err instanceof Error ? err.message : String(err) } };
  }
  if (leaf === undefined) return { assessment: { state: 'unreadable', reason: 'cert-chain.pem holds no certificate' } };
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  const spiffeId = pickSpiffeId(uriSans(leaf));
  const issuedAt = files.meta?.serial === leaf.serialNumber ? files.meta.issuedAt : notBefore;
  const info: InstalledInfo = { ...(spiffeId === undefined ? {} : { spiffeId }), serial: leaf.serialNumber, notBefore, notAfter, issuedAt };
  if (!keyMatchesCert(files.keyPem, leaf)) {
    return { assessment: { state: 'unreadable', reason: 'key.pem does not match the certificate in cert-chain.pem' }, info, leaf };
  }
  if (spiffeId !== expectedId) {
    return { assessment: { state: 'other-identity', reason: `installed certificate is for ${spiffeId ?? 'no SPIFFE identity'}, expected ${expectedId}` }, info, leaf };
  }
  if (now >= notAfter) return { assessment: { state: 'expired', reason: `expired at ${leaf.validTo}` }, info, leaf };
  if (now < notBefore) return { assessment: { state: 'expired', reason: `not valid before ${leaf.validFrom}` }, info, leaf };
  return { assessment: { state: 'valid', serial: leaf.serialNumber, notAfter, issuedAt }, info, leaf };
}
