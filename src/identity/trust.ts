/**
 * The roots an attempt trusts: ca.rootCert plus the installed root-cert.pem (it may be newer after
 * a root rotation). Both decide whom the agent sends its bearer token to, so each is trusted only
 * as a file nobody but root could have written: ca.rootCert is checked here (not a link, root's,
 * in a directory only root can write), the installed root by the store (cert-store.ts).
 */
import type { X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError, ErrorCode } from '../errors.js';
import { writableByOthers } from '../safe-file/policy.js';
import { factsOf, readNoFollow, type NoFollowRead } from '../safe-file/read.js';
import { joinPem, parseCertificates } from './pem.js';

export interface TrustedRoots {
  certs: X509Certificate[];
  pem: string;
  /** ca.rootCert as written by the operator. */
  configuredPem: string;
}

const MAX_ROOT_BYTES = 1 << 20;

function unsafe(path: string, problem: string, fix: string): AgentError {
  return new AgentError(
    ErrorCode.CaRootUnsafe,
    `identity.ca.rootCert ${path} ${problem}: not trusted for the CA connection (whoever can change it chooses whom the agent sends its token to). Fix: ${fix}`,
  );
}

/** ca.rootCert's text, once it is known that only root could have written it. */
export async function readConfiguredRoot(path: string, euid = process.geteuid?.() ?? 0): Promise<string> {
  const unreadable = (why: string, cause?: unknown): AgentError =>
    new AgentError(ErrorCode.CaUnavailable, `identity.ca.rootCert ${path} is not readable (${why}); copy the mesh root certificate there (istioctl x workload entry configure writes root-cert.pem)`, { cause });
  let read: NoFollowRead;
  try {
    read = await readNoFollow(path, MAX_ROOT_BYTES);
  } catch (err) {
    throw unreadable((err as Error).message, err);
  }
  if (read.kind === 'absent') throw unreadable('it does not exist');
  const ownFix = `check that it holds the mesh root, then: chown root:root ${path} && chmod 644 ${path}`;
  if (read.kind === 'refused') throw unsafe(path, read.reason, `replace it with a plain file: ${ownFix}`);
  const problem = writableByOthers(read.facts, euid);
  if (problem !== undefined) throw unsafe(path, `is ${problem}`, ownFix);
  const dir = dirname(path);
  const dirProblem = writableByOthers(factsOf(await stat(dir)), euid);
  if (dirProblem !== undefined) throw unsafe(path, `is in ${dir}, which is ${dirProblem}`, `keep it in a directory only root can write, or chown root ${dir} && chmod go-w ${dir}`);
  return read.text;
}

export async function loadTrustedRoots(rootCertPath: string, installedRootPem: string | undefined): Promise<TrustedRoots> {
  const text = await readConfiguredRoot(rootCertPath);
  let certs: X509Certificate[];
  try {
    certs = parseCertificates(text, `identity.ca.rootCert ${rootCertPath}`);
  } catch (err) {
    throw new AgentError(ErrorCode.CaUnavailable, `${(err as Error).message}; replace it with the mesh root certificate (PEM)`, { cause: err });
  }
  if (installedRootPem !== undefined) {
    try {
      for (const cert of parseCertificates(installedRootPem, 'root-cert.pem')) {
        if (!certs.some((c) => c.fingerprint256 === cert.fingerprint256)) certs.push(cert);
      }
    } catch {
      // an unreadable installed root is replaced by the next install; ca.rootCert suffices
    }
  }
  return { certs, pem: joinPem(certs.map((c) => c.toString())), configuredPem: text };
}
