/**
 * A fresh RSA key and a CSR shaped like Istio's (GenCSRTemplate): empty subject apart from an
 * optional O, and one subjectAltName extension holding the SPIFFE URI. Keys come from
 * node-forge, which hands generation to node's native crypto off the event loop.
 */
import forge from 'node-forge';

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
    return Promise.reject(new Error(`identity.key.bits ${bits} is too small; use at least ${MIN_RSA_BITS}`));
  }
  return new Promise((resolve, reject) => {
    forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 }, (err, keypair) => {
      if (err !== null && err !== undefined) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(keypair);
    });
  });
}

export function buildCsr(keypair: forge.pki.rsa.KeyPair, spiffeUri: string, org = ''): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = keypair.publicKey;
  csr.setSubject(org === '' ? [] : [{ name: 'organizationName', value: org }]);
  csr.setAttributes([
    {
      name: 'extensionRequest',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: spiffeUri }] }],
    },
  ]);
  csr.sign(keypair.privateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

export async function generateKeyAndCsr(bits: number, spiffeUri: string): Promise<KeyAndCsr> {
  const keypair = await generateRsaKey(bits);
  return {
    keyPem: forge.pki.privateKeyToPem(keypair.privateKey),
    csrPem: buildCsr(keypair, spiffeUri),
    publicKeyPem: forge.pki.publicKeyToPem(keypair.publicKey),
  };
}
