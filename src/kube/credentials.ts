/**
 * Reads and checks the TLS material a target names: the CA bundle, the client certificate and its
 * key. Checked before the first connection, so a wrong file is a config error naming the file and
 * the key, not a TLS handshake failure later.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../errors.js';
import { kubeConfigError, type KubeTarget, type Material } from './target.js';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function what(material: Material): string {
  return material.kind === 'file' ? material.path : 'the inline data';
}

async function load(material: Material): Promise<Buffer> {
  if (material.kind === 'data') return material.data;
  try {
    return await readFile(material.path);
  } catch (err) {
    throw kubeConfigError(material.origin, `cannot read ${material.path}: ${errorMessage(err)}; fix the path or the file's permissions`, err);
  }
}

function certificates(material: Material, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw kubeConfigError(material.origin, `${what(material)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw kubeConfigError(material.origin, `${what(material)} holds a certificate that cannot be parsed: ${errorMessage(err)}`, err);
    }
  });
}

function privateKey(material: Material, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw kubeConfigError(material.origin, `${what(material)} is not a PEM private key: ${errorMessage(err)}`, err);
  }
}

export async function loadTlsMaterial(target: KubeTarget): Promise<TlsMaterial> {
  const out: TlsMaterial = {};
  if (target.tlsServerName !== undefined) out.servername = target.tlsServerName;
  if (target.ca !== undefined) {
    out.ca = await load(target.ca);
    certificates(target.ca, out.ca);
  }
  if (target.clientCert !== undefined) {
    const { cert, key } = target.clientCert;
    out.cert = await load(cert);
    out.key = await load(key);
    const leaf = certificates(cert, out.cert)[0];
    const keyObject = privateKey(key, out.key);
    if (leaf !== undefined && !leaf.checkPrivateKey(keyObject)) {
      throw kubeConfigError(key.origin, `${what(key)} is not the key of the client certificate (${what(cert)}); give the matching pair`);
    }
  }
  return out;
}
