/**
 * The identity boundary without a network: an in-process CA that signs our CSRs with a real test
 * PKI (so every answer goes through the real verification), the real certificate store in a temp
 * directory (with an install fault the test can switch on), and a fake clock. The CA's faults
 * are the answers an attacker or a broken CA could send.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import type { Config, IdentityConfig } from '../../src/config/schema.js';
import { AgentError, ErrorCode } from '../../src/errors.js';
import type { CertFiles, IdentityBoundary } from '../../src/identity/boundary.js';
import type { CaAnswer, CaClient, CaRequest } from '../../src/identity/ca-client.js';
import { CertStore, type InstallInput, type InstallResult } from '../../src/identity/cert-store.js';
import { defaultsWith } from './controller-context.js';
import { FakeClock } from './fake-clock.js';
import { createIntermediateCa, createRootCa, generateKeyPair, issueWorkloadCert, type Issuer } from './pki.js';

export type FakeCaBehaviour =
  | 'normal'
  /** Unreachable: the call fails as gRPC UNAVAILABLE does. */
  | 'down'
  /** Never answers until the attempt is cancelled. */
  | 'hang'
  /** A certificate for someone else's SPIFFE ID. */
  | 'other-identity'
  /** A certificate for a key that is not the one in our CSR. */
  | 'wrong-key'
  /** A chain from a CA nobody trusts, without a root. */
  | 'untrusted'
  /** A leaf that expired before it was sent. */
  | 'expired'
  /** Not PEM at all. */
  | 'garbage';

export interface FakeCaCall {
  address: string;
  auth: { mtls: boolean; token: boolean };
  ttlMs: number;
}

interface Pki {
  root: Issuer;
  intermediate: Issuer;
  stranger: Issuer;
}

let shared: Promise<Pki> | undefined;

/** One PKI for the whole test file: RSA keys are the slow part. */
function pki(): Promise<Pki> {
  shared ??= (async () => {
    const root = await createRootCa('Fake Root CA');
    const stranger = await createRootCa('Stranger Root CA');
    return { root, intermediate: await createIntermediateCa(root, 'Fake Intermediate CA'), stranger };
  })();
  return shared;
}

export class FakeCa {
  behaviour: FakeCaBehaviour = 'normal';
  readonly calls: FakeCaCall[] = [];
  /** Set when an attempt was cancelled (stop during a call). */
  cancelled = 0;
  /** Each returns true once it has resolved its promise. */
  private waiters: (() => boolean)[] = [];

  constructor(
    readonly pki: Pki,
    private readonly clock: FakeClock,
  ) {}

  get rootPem(): string {
    return this.pki.root.certPem;
  }

  /** A client for one CA address, as the controller asks for per attempt. */
  client(ca: IdentityConfig['ca']): CaClient {
    return { protocol: 'istiod', sign: (request) => this.sign(ca.address, request) };
  }

  /** Resolves when the CA has been called `count` times in all. */
  called(count: number): Promise<void> {
    if (this.calls.length >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(() => {
        if (this.calls.length < count) return false;
        resolve();
        return true;
      });
    });
  }

  private async sign(address: string, request: CaRequest): Promise<CaAnswer> {
    this.calls.push({ address, auth: { mtls: request.credentials.clientCert !== undefined, token: request.credentials.token !== undefined }, ttlMs: request.ttlMs });
    this.waiters = this.waiters.filter((waiter) => !waiter());
    const auth = request.credentials.clientCert === undefined ? 'token' : 'mtls';
    if (this.behaviour === 'down') throw new AgentError(ErrorCode.CaUnavailable, `CreateCertificate to ${address} failed: UNAVAILABLE: connection refused`);
    if (this.behaviour === 'hang') {
      await new Promise<void>((resolve) => request.signal?.addEventListener('abort', () => resolve(), { once: true }));
      this.cancelled += 1;
      throw new AgentError(ErrorCode.CaUnavailable, 'CreateCertificate: cancelled');
    }
    if (this.behaviour === 'garbage') return { chain: ['not a certificate', 'neither'], root: 'junk', auth };
    const csr = forge.pki.certificationRequestFromPem(request.csrPem);
    const request_ = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: { name: string; altNames?: { value: string }[] }[] } | null;
    const identity = request_?.extensions?.find((e) => e.name === 'subjectAltName')?.altNames?.[0]?.value ?? '';
    const now = this.clock.now();
    let publicKey = csr.publicKey as forge.pki.PublicKey;
    let subject = identity;
    let issuer = this.pki.intermediate;
    let window = { notBefore: new Date(now - 120_000), notAfter: new Date(now + request.ttlMs) };
    if (this.behaviour === 'other-identity') subject = 'spiffe://cluster.local/ns/intruder/sa/mallory';
    if (this.behaviour === 'wrong-key') publicKey = (await generateKeyPair()).publicKey;
    if (this.behaviour === 'untrusted') issuer = this.pki.stranger;
    if (this.behaviour === 'expired') window = { notBefore: new Date(now - 7_200_000), notAfter: new Date(now - 3_600_000) };
    const leaf = issueWorkloadCert(issuer, publicKey, subject, window);
    if (this.behaviour === 'untrusted') return { chain: [leaf], auth };
    return { chain: [leaf, this.pki.intermediate.certPem], root: this.pki.root.certPem, auth };
  }
}

/** The real store, with an install fault (a full disk) the test can switch on. */
export class FaultyStore implements CertFiles {
  failInstalls = 0;
  installs = 0;
  constructor(readonly real: CertStore) {}
  read(): ReturnType<CertStore['read']> {
    return this.real.read();
  }
  repair(): Promise<string[]> {
    return this.real.repair();
  }
  install(input: InstallInput): Promise<InstallResult> {
    this.installs += 1;
    if (this.failInstalls > 0) {
      this.failInstalls -= 1;
      const err = new Error(`ENOSPC: no space left on device, write '${this.real.dir}/..gen-tmp/key.pem'`) as NodeJS.ErrnoException;
      err.code = 'ENOSPC';
      return Promise.reject(err);
    }
    return this.real.install(input);
  }
}

export interface FakeIdentityBoundary extends IdentityBoundary {
  clock: FakeClock;
  ca: FakeCa;
  /** Stores handed out, by certDir. */
  stores: Map<string, FaultyStore>;
  /** A temp directory holding ca.rootCert (root.pem) and room for cert directories. */
  dir: string;
  rootCertPath: string;
  cleanup(): Promise<void>;
}

export async function fakeIdentityBoundary(): Promise<FakeIdentityBoundary> {
  const dir = await mkdtemp(join(tmpdir(), 'mna-identity-'));
  // The trust file as the operator provisions it: only its owner can write it or its directory.
  await chmod(dir, 0o755);
  const clock = new FakeClock(Date.now());
  const ca = new FakeCa(await pki(), clock);
  const rootCertPath = join(dir, 'root.pem');
  await writeFile(rootCertPath, ca.rootPem, { mode: 0o644 });
  const stores = new Map<string, FaultyStore>();
  return {
    clock,
    ca,
    stores,
    dir,
    rootCertPath,
    random: () => 0.5,
    caClient: (config) => ca.client(config),
    certStore: (certDir, options) => {
      const store = new FaultyStore(new CertStore(certDir, options));
      stores.set(certDir, store);
      return store;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The defaults with identity on against `b`'s CA and store: a 1 h certificate, no jitter, no token or owner. */
export function identityConfig(b: FakeIdentityBoundary, edit: (identity: Config['identity']) => void = () => undefined): Promise<Config> {
  return defaultsWith((c) => {
    c.identity.ca.address = 'istiod-a.example:15012';
    c.identity.ca.rootCert = b.rootCertPath;
    c.identity.ca.tokenFile = '';
    c.identity.certDir = join(b.dir, 'certs');
    c.identity.owner = '';
    c.identity.ttl = 3_600_000;
    c.identity.graceJitter = 0;
    edit(c.identity);
  });
}
