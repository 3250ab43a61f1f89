/**
 * One rotation: a fresh key and CSR, the CA call authenticated with what we have (the current
 * certificate while it is valid, else the token), verification of the answer, and an atomic
 * install. Anything failing throws before the installed files are touched.
 */
import { readFile } from 'node:fs/promises';
import type { IdentityConfig } from '../config/schema.js';
import type { CertFiles } from './boundary.js';
import type { CaClient, CaCredentials } from './ca-client.js';
import { inspectStored } from './inspect.js';
import { generateKeyAndCsr } from './keys-and-csr.js';
import { joinPem } from './pem.js';
import { spiffeId } from './spiffe.js';
import { loadTrustedRoots } from './trust.js';
import { verifyAnswer } from './verify.js';
import { AgentError, ErrorCode } from '../errors.js';

export interface RotationOutcome {
  serial: string;
  notAfter: number;
  auth: string;
  pairWritten: boolean;
  rootWritten: boolean;
  rootIsNew: boolean;
  /** Time spent on key + CSR, the CA call, and verify + install. */
  ms: { keyAndCsr: number; ca: number; install: number };
}

async function readToken(path: string): Promise<string | undefined> {
  if (path === '') return undefined;
  try {
    const token = (await readFile(path, 'utf8')).trim();
    return token === '' ? undefined : token;
  } catch {
    // Missing token (e.g. /var/run wiped by a reboot): mTLS alone may still authenticate.
    return undefined;
  }
}

export async function rotateOnce(config: IdentityConfig, store: CertFiles, client: CaClient, now: () => number, signal: AbortSignal): Promise<RotationOutcome> {
  const expected = spiffeId(config.spiffe);
  const current = await store.read();
  const trusted = await loadTrustedRoots(config.ca.rootCert, current.rootPem);
  const installed = inspectStored(current, expected, now());
  const credentials: CaCredentials = { trustedRootsPem: trusted.pem };
  // An expired (or foreign, or torn) certificate is not offered: the CA would refuse the handshake's
  // identity. One that merely fails to chain to the installed root is: the CA still knows its root.
  const usable = installed.assessment.state === 'valid' || installed.assessment.state === 'untrusted';
  if (usable && current.keyPem !== undefined && current.chainPem !== undefined) {
    credentials.clientCert = { keyPem: current.keyPem, chainPem: current.chainPem };
  }
  const token = await readToken(config.ca.tokenFile);
  if (token !== undefined) credentials.token = token;

  const t0 = performance.now();
  const fresh = await generateKeyAndCsr(config.key.bits, expected);
  const t1 = performance.now();
  const answer = await client.sign({ csrPem: fresh.csrPem, ttlMs: config.ttl, credentials, signal });
  const t2 = performance.now();
  const verified = verifyAnswer(answer.root === undefined ? { chain: answer.chain } : { chain: answer.chain, root: answer.root }, {
    trustedRoots: trusted.certs,
    expectedId: expected,
    publicKeyPem: fresh.publicKeyPem,
    now: now(),
    acceptAnswerRoot: client.protocol === 'istiod',
  });
  // istiod's layout (OutputKeyCertToDir): the chain file holds every element, root included.
  const chainBlocks = client.protocol === 'istiod' && answer.root !== undefined ? [...verified.chainPem, verified.rootPem] : verified.chainPem;
  if (signal.aborted) throw new AgentError(ErrorCode.Cancelled, 'rotation cancelled before install');
  const result = await store.install({
    keyPem: fresh.keyPem,
    chainPem: joinPem(dedupeTail(chainBlocks)),
    // Citadel sends no root: root-cert.pem mirrors ca.rootCert as provisioned.
    rootPem: client.protocol === 'citadel' ? trusted.configuredPem : verified.rootPem,
    meta: { issuedAt: now(), spiffeId: expected, serial: verified.leaf.serialNumber },
  });
  const t3 = performance.now();
  return {
    serial: verified.leaf.serialNumber,
    notAfter: Date.parse(verified.leaf.validTo),
    auth: answer.auth,
    pairWritten: result.pairWritten,
    rootWritten: result.rootWritten,
    rootIsNew: verified.rootIsNew,
    ms: { keyAndCsr: t1 - t0, ca: t2 - t1, install: t3 - t2 },
  };
}

/** Drops a repeated last element (a chain that already ended with the root). */
function dedupeTail(blocks: string[]): string[] {
  const last = blocks[blocks.length - 1];
  const before = blocks[blocks.length - 2];
  return last !== undefined && before !== undefined && last.trim() === before.trim() ? blocks.slice(0, -1) : blocks;
}
