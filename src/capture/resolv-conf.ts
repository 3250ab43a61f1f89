/**
 * The nameservers whose traffic DNS capture redirects. The DNS controller saves the host's
 * original resolv.conf in stateDir before it points the host at itself, so that copy wins; the
 * live /etc/resolv.conf is the fallback.
 */
import { readFile } from 'node:fs/promises';
import { parseNameservers, savedResolvConfPath, SYSTEM_RESOLV_CONF } from '../host/resolv-conf.js';

export async function readNameservers(stateDir: string, fallback = SYSTEM_RESOLV_CONF): Promise<{ file: string; nameservers: string[] }> {
  for (const file of [savedResolvConfPath(stateDir), fallback]) {
    try {
      return { file, nameservers: parseNameservers(await readFile(file, 'utf8')) };
    } catch {
      // try the next
    }
  }
  return { file: fallback, nameservers: [] };
}
