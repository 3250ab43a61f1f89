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
  let chain: X509Certificate[];
  try {
    chain = parseCertificates(files.chainPem, 'cert-chain.pem');
  } catch (err) {
    return { assessment: { state: 'unreadable', reason: err instanceof Error ? err.message : String(err) } };
  }
  const leaf = chain[0];
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
  if (files.rootPem !== undefined && !chainsToRoot(chain, files.rootPem)) {
    return { assessment: { state: 'untrusted', reason: 'cert-chain.pem does not verify to root-cert.pem' }, info, leaf };
  }
  return { assessment: { state: 'valid', serial: leaf.serialNumber, notAfter, issuedAt }, info, leaf };
}

/** Each certificate signed by the next, the last one a root of root-cert.pem or signed by one. An unparsable root file counts as no check. */
function chainsToRoot(chain: readonly X509Certificate[], rootPem: string): boolean {
  let roots: X509Certificate[];
  try {
    roots = parseCertificates(rootPem, 'root-cert.pem');
  } catch {
    return true;
  }
  const signedBy = (child: X509Certificate, parent: X509Certificate): boolean => child.checkIssued(parent) && child.verify(parent.publicKey);
  for (let i = 0; i + 1 < chain.length; i += 1) {
    if (!signedBy(chain[i] as X509Certificate, chain[i + 1] as X509Certificate)) return false;
  }
  const top = chain[chain.length - 1];
  return top !== undefined && roots.some((root) => root.fingerprint256 === top.fingerprint256 || signedBy(top, root));
}
