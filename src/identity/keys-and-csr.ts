/**
 * A fresh RSA key and a CSR shaped like Istio's (GenCSRTemplate): empty subject apart from an
 * optional O, and one subjectAltName extension holding the SPIFFE URI. node-forge builds both;
 * like forge's own key generation (which hands off to node's crypto off the event loop), the
 * RSA signature over the CSR is computed natively: forge's JavaScript RSA costs 50-150 ms.
 */
import { createPrivateKey, sign } from 'node:crypto';
import forge from 'node-forge';
import { AgentError, ErrorCode } from '../errors.js';

export interface KeyAndCsr {
  /** PKCS#1 "RSA PRIVATE KEY" PEM, the format Istio writes by default. */
  keyPem: string;
  csrPem: string;
  /** SubjectPublicKeyInfo PEM, to check that an issued certificate carries our key. */
  publicKeyPem: string;
}

export const MIN_RSA_BITS = 2048;

export function generateRsaKey(bits: number): Promise<forge.pki.rsa.KeyPair> {
  if (!Number.isInteger(bits) || bits < MIN_RSA_BITS) {
    return Promise.reject(new AgentError(ErrorCode.KeyGenerationFailed, `identity.key.bits ${bits} is too small; use at least ${MIN_RSA_BITS}`));
  }
  return new Promise((resolve, reject) => {
    forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 }, (err, keypair) => {
      if (err !== null && err !== undefined) reject(new AgentError(ErrorCode.KeyGenerationFailed, `key generation failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      else resolve(keypair);
    });
  });
}

// Exported by forge at runtime but missing from @types/node-forge.
const pkiInternals = forge.pki as unknown as { getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1 };

/** Signs the CSR the way forge's csr.sign(key, sha256) does, with the RSA operation done natively. */
function signCsrSha256(csr: forge.pki.CertificateSigningRequest, keyPem: string): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption as string;
  csr.signatureOid = oid;
  csr.siginfo.algorithmOid = oid;
  const info = pkiInternals.getCertificationRequestInfo(csr);
  csr.certificationRequestInfo = info;
  const der = Buffer.from(forge.asn1.toDer(info).getBytes(), 'binary');
  csr.signature = sign('sha256', der, createPrivateKey(keyPem)).toString('binary');
}

export function buildCsr(keypair: forge.pki.rsa.KeyPair, spiffeUri: string, org = '', keyPem = forge.pki.privateKeyToPem(keypair.privateKey)): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = keypair.publicKey;
  csr.setSubject(org === '' ? [] : [{ name: 'organizationName', value: org }]);
  csr.setAttributes([
    {
      name: 'extensionRequest',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: spiffeUri }] }],
    },
  ]);
  signCsrSha256(csr, keyPem);
  return forge.pki.certificationRequestToPem(csr);
}

export async function generateKeyAndCsr(bits: number, spiffeUri: string): Promise<KeyAndCsr> {
  const keypair = await generateRsaKey(bits);
  const keyPem = forge.pki.privateKeyToPem(keypair.privateKey);
  return {
    keyPem,
    csrPem: buildCsr(keypair, spiffeUri, '', keyPem),
    publicKeyPem: forge.pki.publicKeyToPem(keypair.publicKey),
  };
}
