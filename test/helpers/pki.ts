/**
 * A small PKI for tests, built with node-forge: a root, an intermediate, serving certificates and
 * workload certificates shaped like istiod's (empty subject, critical URI SAN, backdated NotBefore).
 */
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

export interface Issuer {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
  certPem: string;
}

// Exported by forge at runtime but missing from @types/node-forge.
const pkiInternals = forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };
const nativeKeys = new WeakMap<forge.pki.rsa.PrivateKey, KeyObject>();

export interface IssueOptions {
  notBefore: Date;
  notAfter: Date;
}

export function generateKeyPair(bits = 2048): Promise<forge.pki.rsa.KeyPair> {
  return new Promise((resolve, reject) => {
    forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 }, (err, pair) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(pair)));
  });
}

function serial(): string {
  // Positive, 16 bytes: the high bit cleared so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function baseCert(publicKey: forge.pki.PublicKey, options: IssueOptions): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = options.notBefore;
  cert.validity.notAfter = options.notAfter;
  return cert;
}

/** cert.sign(signer, sha256) with the RSA operation done natively (forge's JavaScript RSA is slow). */
function finish(cert: forge.pki.Certificate, signer: forge.pki.rsa.PrivateKey): string {
  let native = nativeKeys.get(signer);
  if (native === undefined) {
    native = createPrivateKey(forge.pki.privateKeyToPem(signer));
    nativeKeys.set(signer, native);
  }
  const oid = forge.pki.oids.sha256WithRSAEncryption as string;
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  const tbs = pkiInternals.getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  cert.signature = sign('sha256', Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary'), native).toString('binary');
  return forge.pki.certificateToPem(cert);
}

export async function createRootCa(name: string, days = 3650): Promise<Issuer> {
  const pair = await generateKeyPair();
  const now = Date.now();
  const cert = baseCert(pair.publicKey, { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + days * 86_400_000) });
  const subject = [{ name: 'organizationName', value: 'cluster.local' }, { name: 'commonName', value: name }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { cert, key: pair.privateKey, certPem: finish(cert, pair.privateKey) };
}

export async function createIntermediateCa(parent: Issuer, name: string, days = 365): Promise<Issuer> {
  const pair = await generateKeyPair();
  const now = Date.now();
  const cert = baseCert(pair.publicKey, { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + days * 86_400_000) });
  cert.setSubject([{ name: 'organizationName', value: 'cluster.local' }, { name: 'commonName', value: name }]);
  cert.setIssuer(parent.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { cert, key: pair.privateKey, certPem: finish(cert, parent.key) };
}

export async function createServingCert(issuer: Issuer, dnsNames: string[], ips: string[] = []): Promise<{ certPem: string; keyPem: string }> {
  const pair = await generateKeyPair();
  const now = Date.now();
  const cert = baseCert(pair.publicKey, { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 30 * 86_400_000) });
  cert.setSubject([{ name: 'commonName', value: dnsNames[0] ?? 'test-ca' }]);
  cert.setIssuer(issuer.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))] },
  ]);
  return { certPem: finish(cert, issuer.key), keyPem: forge.pki.privateKeyToPem(pair.privateKey) };
}

/** A workload certificate as istiod issues it: empty subject, the identity as the only (critical) SAN. */
export function issueWorkloadCert(issuer: Issuer, publicKey: forge.pki.PublicKey, identity: string, options: IssueOptions): string {
  const cert = baseCert(publicKey, options);
  cert.setSubject([]);
  cert.setIssuer(issuer.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', critical: true, altNames: [{ type: 6, value: identity }] },
  ]);
  return finish(cert, issuer.key);
}

/** A key and a workload certificate for it, e.g. to pre-provision /etc/certs as setupMeshEx.sh did. */
export async function provisionWorkload(issuer: Issuer, identity: string, options: IssueOptions): Promise<{ keyPem: string; certPem: string }> {
  const pair = await generateKeyPair();
  return { keyPem: forge.pki.privateKeyToPem(pair.privateKey), certPem: issueWorkloadCert(issuer, pair.publicKey, identity, options) };
}
