/**
 * The nameservers whose traffic DNS capture redirects. The DNS controller saves the host's
 * original resolv.conf in stateDir before it points the host at itself, so that copy wins; the
 * live /etc/resolv.conf is the fallback.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';

/** Pure: `nameserver` lines, in order, deduplicated; zone suffixes (fe80::1%eth0) dropped. */
export function parseNameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const address = m?.[1]?.split('%')[0];
    if (address !== undefined && isIP(address) !== 0 && !out.includes(address)) out.push(address);
  }
  return out;
}

export async function readNameservers(stateDir: string, fallback = '/etc/resolv.conf'): Promise<{ file: string; nameservers: string[] }> {
  for (const file of [join(stateDir, 'resolv.conf'), fallback]) {
    try {
      return { file, nameservers: parseNameservers(await readFile(file, 'utf8')) };
    } catch {
      // try the next
    }
  }
  return { file: fallback, nameservers: [] };
}
