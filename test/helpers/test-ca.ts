/**
 * A CA server for identity tests, on @grpc/grpc-js over TLS, enforcing what istiod (and Citadel
 * 1.x) enforce: the caller must authenticate, by a client certificate issued by this CA (a
 * presented but invalid certificate fails the call, as Go's VerifyClientCertIfGiven fails the
 * handshake) or by a known, unexpired bearer token; the CSR must parse and carry a valid
 * signature (Citadel: and a SAN extension); the issued identity is the caller's, never the CSR's.
 * Faults for tests: stop/start, garbage answers, certificates for another identity, root rotation.
 */
import type { ServerCredentials} from '@grpc/grpc-js';
import { experimental, Server, status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { loadCaServices } from '../../src/identity/ca-services.js';
import type { CsrRequest__Output as CsrRequest } from '../../src/identity/generated/istio/v1/auth/CsrRequest.js';
import type { CsrResponse } from '../../src/identity/generated/istio/v1/auth/CsrResponse.js';
import type { IstioCAServiceHandlers } from '../../src/identity/generated/istio/v1/auth/IstioCAService.js';
import type { IstioCertificateRequest__Output as IstioCertificateRequest } from '../../src/identity/generated/istio/v1/auth/IstioCertificateRequest.js';
import type { IstioCertificateResponse } from '../../src/identity/generated/istio/v1/auth/IstioCertificateResponse.js';
import type { IstioCertificateServiceHandlers } from '../../src/identity/generated/istio/v1/auth/IstioCertificateService.js';
import { createIntermediateCa, createRootCa, createServingCert, issueWorkloadCert, type Issuer } from './pki.js';

export type CaProtocol = 'istiod' | 'citadel';
export type CaBehaviour = 'normal' | 'garbage' | 'other-identity' | 'short-chain';

export interface CaRequestRecord {
  method: 'CreateCertificate' | 'HandleCSR';
  auth: 'mtls' | 'token';
  identity: string;
  clientCertPresented: boolean;
  clusterId?: string;
  validityDuration?: number;
  ttlMinutes?: number;
  credentialType?: string;
  credentialPem?: string;
  certSigner?: string;
  issuedSerial?: string;
}

export interface TestCaOptions {
  protocol: CaProtocol;
  /** Upper bound on issued lifetimes (policy may shorten what the client asks for, as Citadel's max TTL does). */
  maxTtlMs?: number;
  /** How far NotBefore is backdated (istiod: 2 minutes). */
  backdateMs?: number;
  /** Listening address (default 127.0.0.1, a random port). */
  host?: string;
  port?: number;
  /** Prefix of the CA certificates' names (default "Test"); two CAs in one test need distinct names. */
  name?: string;
}

export const OTHER_IDENTITY = 'spiffe://cluster.local/ns/intruder/sa/mallory';
export const CA_SERVER_NAMES = ['istiod.istio-system.svc', 'istio-citadel', 'istio-ca'];

class StaticProvider implements experimental.CertificateProvider {
  constructor(
    private readonly ca: Buffer,
    private readonly identity: { certificate: Buffer; privateKey: Buffer },
  ) {}
  // Listeners must hear back asynchronously: grpc-js registers its watcher after subscribing.
  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    setImmediate(() => listener({ caCertificate: this.ca }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    setImmediate(() => listener(this.identity));
  }
  removeIdentityCertificateListener(): void {}
}

function fail<T>(callback: sendUnaryData<T>, code: status, details: string): void {
  const err: Partial<ServiceError> = { code, details, message: details };
  callback(err, null);
}

export class TestCa {
  readonly requests: CaRequestRecord[] = [];
  behaviour: CaBehaviour = 'normal';
  /** Token → identity and expiry. */
  readonly tokens = new Map<string, { identity: string; expiresAt: number }>();
  private server: Server | undefined;
  private port: number;
  private readonly host: string;
  private issuers: Issuer[] = [];
  private roots: Issuer[] = [];
  private serving!: { certPem: string; keyPem: string };
  private servingIntermediate!: Issuer;

  private constructor(readonly options: TestCaOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
  }

  static async create(options: TestCaOptions): Promise<TestCa> {
    const ca = new TestCa(options);
    const name = options.name ?? 'Test';
    const root = await createRootCa(`${name} Root CA`);
    const intermediate = await createIntermediateCa(root, `${name} Intermediate CA`);
    ca.roots = [root];
    ca.issuers = [intermediate];
    ca.servingIntermediate = intermediate;
    ca.serving = await createServingCert(intermediate, CA_SERVER_NAMES, [...new Set(['127.0.0.1', ca.host])]);
    await ca.start();
    return ca;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** The current root (what root-cert.pem should hold). */
  get rootPem(): string {
    return (this.roots[this.roots.length - 1] as Issuer).certPem;
  }

  get issuer(): Issuer {
    return this.issuers[this.issuers.length - 1] as Issuer;
  }

  /** Issued certificates so far. */
  get issued(): number {
    return this.requests.filter((r) => r.issuedSerial !== undefined).length;
  }

  addToken(token: string, identity: string, ttlMs = 3_600_000): void {
    this.tokens.set(token, { identity, expiresAt: Date.now() + ttlMs });
  }

  /**
   * A new root and intermediate sign from now on. Like istiod during a root transition, the
   * server trusts both roots for client certificates (a restart picks up the bundle) and keeps its
   * serving certificate, so agents that only know the old root still connect.
   */
  async rotateRoot(): Promise<void> {
    const root = await createRootCa(`Test Root CA ${this.roots.length + 1}`);
    this.issuers.push(await createIntermediateCa(root, `Test Intermediate CA ${this.issuers.length + 1}`));
    this.roots.push(root);
    if (this.server !== undefined) {
      await this.stop();
      await this.start();
    }
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return;
    const server = new Server();
    const services = loadCaServices();
    const istiod: IstioCertificateServiceHandlers = { CreateCertificate: this.createCertificate.bind(this) };
    const citadel: IstioCAServiceHandlers = { HandleCSR: this.handleCsr.bind(this) };
    server.addService(services.istiod.service, istiod);
    // Citadel 1.1 served both APIs on :8060.
    if (this.options.protocol === 'citadel') server.addService(services.citadel.service, citadel);
    const provider = new StaticProvider(Buffer.from(this.roots.map((r) => r.certPem).join('')), {
      certificate: Buffer.from(this.serving.certPem + this.servingIntermediate.certPem),
      privateKey: Buffer.from(this.serving.keyPem),
    });
    // requestCert without rejectUnauthorized: the certificate is checked per call (see authenticate).
    const creds: ServerCredentials = experimental.createCertificateProviderServerCredentials(provider, provider, false);
    this.port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${this.host}:${this.port}`, creds, (err, port) => (err ? reject(err) : resolve(port)));
    });
    this.server = server;
  }

  /** Stops listening at once (in-flight calls fail), like istiod going away. */
  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return Promise.resolve();
    server.forceShutdown();
    return Promise.resolve();
  }

  private authenticate(call: ServerUnaryCall<unknown, unknown>): { ok: true; auth: 'mtls' | 'token'; identity: string; presented: boolean } | { ok: false; details: string } {
    const peer = call.getAuthContext().sslPeerCertificate;
    const presented = peer?.raw !== undefined;
    if (peer?.raw !== undefined) {
      const cert = new X509Certificate(peer.raw);
      const issuer = this.issuers.find((i) => {
        const parent = new X509Certificate(i.certPem);
        return cert.checkIssued(parent) && cert.verify(parent.publicKey);
      });
      const now = Date.now();
      if (issuer === undefined) return { ok: false, details: 'client certificate not issued by this CA' };
      if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return { ok: false, details: 'client certificate expired or not yet valid' };
      const id = (cert.subjectAltName ?? '').split(/,\s*/).find((s) => s.startsWith('URI:spiffe://'));
      if (id !== undefined) return { ok: true, auth: 'mtls', identity: id.slice(4), presented };
    }
    const header = call.metadata.get('authorization')[0];
    if (typeof header === 'string' && header.startsWith('Bearer ')) {
      const entry = this.tokens.get(header.slice(7));
      if (entry !== undefined && entry.expiresAt > Date.now()) return { ok: true, auth: 'token', identity: entry.identity, presented };
      return { ok: false, details: 'request authenticate failure: token unknown or expired' };
    }
    return { ok: false, details: 'request authenticate failure: no client certificate and no token' };
  }

  private parseCsr(pem: string, requireSan: boolean): forge.pki.PublicKey {
    const csr = forge.pki.certificationRequestFromPem(pem, false, true);
    if (!csr.verify()) throw new Error('CSR signature does not verify');
    if (requireSan) {
      const request = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: { name: string }[] } | null;
      if (!request?.extensions?.some((e) => e.name === 'subjectAltName')) throw new Error('CSR identity extraction error (the SAN extension does not exist)');
    }
    if (csr.publicKey === null) throw new Error('CSR has no public key');
    return csr.publicKey;
  }

  private sign(publicKey: forge.pki.PublicKey, identity: string, ttlMs: number): { leaf: string; serial: string } {
    const now = Date.now();
    const lifetime = Math.min(ttlMs, this.options.maxTtlMs ?? ttlMs);
    const subjectId = this.behaviour === 'other-identity' ? OTHER_IDENTITY : identity;
    const leaf = issueWorkloadCert(this.issuer, publicKey, subjectId, {
      notBefore: new Date(now - (this.options.backdateMs ?? 120_000)),
      notAfter: new Date(now + lifetime),
    });
    return { leaf, serial: new X509Certificate(leaf).serialNumber };
  }

  private createCertificate(call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>, callback: sendUnaryData<IstioCertificateResponse>): void {
    const who = this.authenticate(call);
    if (!who.ok) return fail(callback, status.UNAUTHENTICATED, who.details);
    const record: CaRequestRecord = {
      method: 'CreateCertificate',
      auth: who.auth,
      identity: who.identity,
      clientCertPresented: who.presented,
      validityDuration: Number(call.request.validity_duration),
      certSigner: call.request.metadata?.fields.CertSigner?.stringValue,
    };
    const clusterId = call.metadata.get('clusterid')[0];
    if (typeof clusterId === 'string') record.clusterId = clusterId;
    this.requests.push(record);
    let publicKey: forge.pki.PublicKey;
    try {
      publicKey = this.parseCsr(call.request.csr, false);
    } catch (err) {
      return fail(callback, status.INVALID_ARGUMENT, `CSR parse error: ${(err as Error).message}`);
    }
    const seconds = record.validityDuration ?? 0;
    const ttlMs = seconds <= 0 ? 86_400_000 : seconds * 1000;
    if (this.behaviour === 'garbage') return callback(null, { cert_chain: ['-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n', 'not a certificate at all\n'] });
    const { leaf, serial } = this.sign(publicKey, who.identity, ttlMs);
    if (this.behaviour === 'short-chain') return callback(null, { cert_chain: [leaf] });
    record.issuedSerial = serial;
    const root = this.rootPem;
    callback(null, { cert_chain: [leaf, this.issuer.certPem, root].map((p) => `${p.trim()}\n`) });
  }

  private handleCsr(call: ServerUnaryCall<CsrRequest, CsrResponse>, callback: sendUnaryData<CsrResponse>): void {
    const who = this.authenticate(call);
    if (!who.ok) return fail(callback, status.UNAUTHENTICATED, who.details);
    const record: CaRequestRecord = {
      method: 'HandleCSR',
      auth: who.auth,
      identity: who.identity,
      clientCertPresented: who.presented,
      ttlMinutes: call.request.requested_ttl_minutes,
      credentialType: call.request.credential_type,
      credentialPem: Buffer.from(call.request.node_agent_credential).toString('utf8'),
    };
    this.requests.push(record);
    let publicKey: forge.pki.PublicKey;
    try {
      publicKey = this.parseCsr(Buffer.from(call.request.csr_pem).toString('utf8'), true);
    } catch (err) {
      return fail(callback, status.INVALID_ARGUMENT, `CSR parse error: ${(err as Error).message}`);
    }
    if (this.behaviour === 'garbage') {
      return callback(null, { is_approved: true, signed_cert: Buffer.from('garbage\n'), cert_chain: Buffer.from('more garbage'), status: null });
    }
    const { leaf, serial } = this.sign(publicKey, who.identity, record.ttlMinutes === undefined || record.ttlMinutes <= 0 ? 90 * 86_400_000 : record.ttlMinutes * 60_000);
    record.issuedSerial = serial;
    callback(null, { is_approved: true, signed_cert: Buffer.from(leaf), cert_chain: Buffer.from(this.issuer.certPem), status: { code: 0, message: '' } });
  }
}
