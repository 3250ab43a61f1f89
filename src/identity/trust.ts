/** The roots an attempt trusts: ca.rootCert plus the installed root-cert.pem (it may be newer after a root rotation). */
import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AgentError, ErrorCode } from '../errors.js';
import { joinPem, parseCertificates } from './pem.js';

export interface TrustedRoots {
  certs: X509Certificate[];
  pem: string;
  /** ca.rootCert as written by the operator. */
  configuredPem: string;
}

export async function loadTrustedRoots(rootCertPath: string, installedRootPem: string | undefined): Promise<TrustedRoots> {
  let text: string;
  try {
    text = await readFile(rootCertPath, 'utf8');
  } catch (err) {
    throw new AgentError(ErrorCode.CaUnavailable, `identity.ca.rootCert ${rootCertPath} is not readable (${(err as Error).message}); copy the mesh root certificate there (istioctl x workload entry configure writes root-cert.pem)`, { cause: err });
  }
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
