/** Shared pieces of the identity integration tests: reading the installed files, openssl, agent status. */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentHandle } from './agent-process.js';
import { run, waitFor } from './exec.js';

export interface Installed {
  keyPem: string;
  chainPem: string;
  rootPem: string;
  leaf: X509Certificate;
  serial: string;
  keyMatches: boolean;
  uris: string[];
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The installed files, or undefined when the pair is not installed yet; throws when a present file does not parse. */
export async function readInstalled(certDir: string): Promise<Installed | undefined> {
  const [keyPem, chainPem, rootPem] = await Promise.all(['key.pem', 'cert-chain.pem', 'root-cert.pem'].map((f) => readOptional(join(certDir, f))));
  if (keyPem === undefined && chainPem === undefined) return undefined;
  if (keyPem === undefined || chainPem === undefined) throw new Error(`torn install: key.pem ${keyPem === undefined ? 'missing' : 'present'}, cert-chain.pem ${chainPem === undefined ? 'missing' : 'present'}`);
  const leaf = new X509Certificate(chainPem);
  const key = createPrivateKey(keyPem);
  if (rootPem !== undefined) new X509Certificate(rootPem);
  return {
    keyPem,
    chainPem,
    rootPem: rootPem ?? '',
    leaf,
    serial: leaf.serialNumber,
    keyMatches: leaf.checkPrivateKey(key),
    uris: (leaf.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
  };
}

/** `openssl verify -CAfile root-cert.pem` of the installed leaf, with the chain file supplying intermediates. */
export async function opensslVerify(certDir: string): Promise<{ ok: boolean; output: string }> {
  const chain = join(certDir, 'cert-chain.pem');
  const r = await run('openssl', ['verify', '-CAfile', join(certDir, 'root-cert.pem'), '-untrusted', chain, chain]);
  return { ok: r.code === 0 && r.stdout.includes(': OK'), output: `${r.stdout}${r.stderr}` };
}

export async function identityStatus(agent: AgentHandle): Promise<Record<string, unknown>> {
  const res = await agent.get('/status');
  const body = JSON.parse(res.body) as { controllers: { identity: Record<string, unknown> } };
  return body.controllers.identity;
}

/** Waits until an installed certificate with a serial other than `previous` is in place. */
export async function waitForNewSerial(certDir: string, previous: string | undefined, timeoutMs = 20_000, agent?: AgentHandle): Promise<Installed> {
  try {
    return await waitFor(
      `a certificate other than ${previous ?? '(none)'}`,
      async () => {
        const now = await readInstalled(certDir);
        return now !== undefined && now.serial !== previous ? now : undefined;
      },
      timeoutMs,
      50,
    );
  } catch (err) {
    // The agent's recent log lines say why (logged at timeout, not at the start of the wait).
    throw new Error(`${(err as Error).message}${agent === undefined ? '' : `\nagent logs:\n${agent.logs().slice(-3000)}`}`, { cause: err });
  }
}
