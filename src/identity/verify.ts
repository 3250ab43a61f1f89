/**
 * Checks a CA answer before anything is installed: every certificate parses and is valid now,
 * each one is signed by the next, the top one is (or is signed by) a trusted root, the leaf
 * carries our public key and the expected SPIFFE ID. Pure apart from the clock passed in.
 */
import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { AgentError, ErrorCode } from '../errors.js';
import { parseCertificates, uriSans } from './pem.js';

export interface AnswerToVerify {
  /** Leaf first, then intermediates; may end with a root. */
  chain: readonly string[];
  /** The root the CA sent (istiod: the last chain element), if any. */
  root?: string;
}

export interface VerifyOptions {
  trustedRoots: readonly X509Certificate[];
  expectedId: string;
  publicKeyPem: string;
  now: number;
  /**
   * Accept a self-signed root sent in the answer even if it is not (yet) trusted: the answer came
   * over a channel authenticated with the trusted roots, and this is how istiod announces a root
   * rotation. The new root is then installed as root-cert.pem.
   */
  acceptAnswerRoot: boolean;
}

export interface VerifiedAnswer {
  leaf: X509Certificate;
  /** PEM of the full chain as installed (leaf first). */
  chainPem: string[];
  /** The root the chain verifies to (PEM). */
  rootPem: string;
  rootIsNew: boolean;
}

function reject(reason: string): never {
  throw new AgentError(ErrorCode.CaAnswerRejected, `CA answer rejected: ${reason}; the installed certificate is kept`);
}

function sameKey(a: string | KeyObject, b: KeyObject): boolean {
  const left = typeof a === 'string' ? createPublicKey(a) : a;
  return left.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** A distinguished name on one line; node returns undefined for an empty subject (istiod's leaves). */
function dn(name: string | undefined): string {
  return name === undefined || name === '' ? '(empty)' : name.replace(/\n/g, ', ');
}

function coversNow(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

export function verifyAnswer(answer: AnswerToVerify, options: VerifyOptions): VerifiedAnswer {
  if (answer.chain.length === 0) reject('empty certificate chain');
  let certs: X509Certificate[];
  let answerRoot: X509Certificate | undefined;
  try {
    certs = answer.chain.flatMap((pem, i) => parseCertificates(pem, `chain element ${i + 1}`));
    answerRoot = answer.root === undefined ? undefined : parseCertificates(answer.root, 'root')[0];
  } catch (err) {
    reject(err instanceof Error ? err.message : String(err));
  }
  const leaf = certs[0];
  if (leaf === undefined) reject('empty certificate chain');
  if (leaf.ca) reject('the first certificate is a CA certificate, not a workload certificate');

  if (!sameKey(options.publicKeyPem, leaf.publicKey)) reject('the leaf certificate does not carry the public key of our CSR');
  const ids = uriSans(leaf);
  if (!ids.includes(options.expectedId)) {
    reject(`the leaf certificate is for ${ids.length === 0 ? 'no SPIFFE identity' : ids.join(', ')}, expected ${options.expectedId}`);
  }
  certs.forEach((cert, i) => {
    if (!coversNow(cert, options.now)) {
      reject(`certificate ${i + 1} (serial ${cert.serialNumber}) is not valid now (${cert.validFrom} .. ${cert.validTo})`);
    }
  });
  for (let i = 0; i + 1 < certs.length; i += 1) {
    const child = certs[i] as X509Certificate;
    const parent = certs[i + 1] as X509Certificate;
    if (!parent.ca) reject(`certificate ${i + 2} is not a CA certificate but signs certificate ${i + 1}`);
    if (!signedBy(child, parent)) reject(`certificate ${i + 1} is not signed by certificate ${i + 2}`);
  }

  const top = certs[certs.length - 1] as X509Certificate;
  const isTrusted = (cert: X509Certificate): boolean => options.trustedRoots.some((root) => root.fingerprint256 === cert.fingerprint256);
  const chainsTo = (root: X509Certificate): boolean => root.fingerprint256 === top.fingerprint256 || signedBy(top, root);
  const chainPem = certs.map((c) => c.toString());
  if (answerRoot !== undefined) {
    if (!chainsTo(answerRoot)) reject('the root in the answer does not sign the chain');
    if (!answerRoot.ca || !signedBy(answerRoot, answerRoot)) reject('the root in the answer is not a self-signed CA certificate');
    if (!coversNow(answerRoot, options.now)) reject(`the root in the answer is not valid now (${answerRoot.validFrom} .. ${answerRoot.validTo})`);
    if (isTrusted(answerRoot)) return { leaf, chainPem, rootPem: answerRoot.toString(), rootIsNew: false };
    // Not trusted yet: a root rotation, or a cross-signed chain that also reaches a trusted root.
    if (options.acceptAnswerRoot || options.trustedRoots.some(chainsTo)) return { leaf, chainPem, rootPem: answerRoot.toString(), rootIsNew: true };
    reject(`the root in the answer (${dn(answerRoot.subject)}) is not trusted`);
  }
  const trusted = options.trustedRoots.find(chainsTo);
  if (trusted === undefined) {
    reject(`the chain does not verify to a trusted root (top: ${dn(top.subject)}, issuer ${dn(top.issuer)})`);
  }
  return { leaf, chainPem, rootPem: trusted.toString(), rootIsNew: false };
}

/** True when the private key PEM belongs to the certificate. */
export function keyMatchesCert(keyPem: string, cert: X509Certificate): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}
