/** PEM text helpers: split a bundle into certificates and parse them with node:crypto. */
import { X509Certificate } from 'node:crypto';
import { AgentError, ErrorCode } from '../errors.js';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The CERTIFICATE blocks of a PEM text, each normalised to end with one newline. */
export function splitPemCertificates(text: string): string[] {
  return (text.match(CERT_BLOCK) ?? []).map((block) => `${block.replace(/\r\n/g, '\n').trim()}\n`);
}

/** Parses every certificate of a PEM bundle; throws naming `what` when a block is unparsable or none is present. */
export function parseCertificates(text: string, what: string): X509Certificate[] {
  const blocks = splitPemCertificates(text);
  if (blocks.length === 0) throw new AgentError(ErrorCode.CertInvalid, `${what}: no PEM certificate found`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new AgentError(ErrorCode.CertInvalid, `${what}: certificate ${index + 1} does not parse (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
  });
}

/** URI SANs of a certificate ("URI:spiffe://..." entries of subjectAltName). */
export function uriSans(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san === undefined) return [];
  return san
    .split(/,\s*/)
    .filter((part) => part.startsWith('URI:'))
    .map((part) => part.slice(4));
}

export function joinPem(blocks: readonly string[]): string {
  return blocks.map((block) => `${block.replace(/\r\n/g, '\n').trim()}\n`).join('');
}
