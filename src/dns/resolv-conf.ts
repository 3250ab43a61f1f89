/**
 * The default upstreams: nameservers of a resolv.conf copy saved in stateDir. The copy is taken
 * from /etc/resolv.conf on first start (if absent), minus any nameserver that is one of our own
 * listeners, so pointing /etc/resolv.conf at the agent later never makes it forward to itself.
 * The capture controller reads the same file.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileDurably } from '../host/durable-file.js';
import type { HostPort } from '../net/host-port.js';
import { parseNameservers, savedResolvConfPath, SYSTEM_RESOLV_CONF } from '../host/resolv-conf.js';

/** A nameserver (always port 53) that is one of our listeners would be a forwarding loop. */
export function isOwnListener(nameserver: string, listeners: readonly HostPort[]): boolean {
  return listeners.some((l) => l.port === 53 && (l.host === nameserver || l.host === '0.0.0.0' || l.host === '::'));
}

/** resolv.conf text without the nameserver lines that point at us (pure). */
export function withoutOwnNameservers(text: string, listeners: readonly HostPort[]): string {
  return text
    .split('\n')
    .filter((raw) => {
      const ns = parseNameservers(raw)[0];
      return ns === undefined || !isOwnListener(ns, listeners);
    })
    .join('\n');
}

/** Makes sure the saved copy exists; returns its nameservers minus our own listeners. */
export async function savedUpstreams(stateDir: string, listeners: readonly HostPort[], source = SYSTEM_RESOLV_CONF): Promise<string[]> {
  const saved = savedResolvConfPath(stateDir);
  if (!existsSync(saved)) {
    let text = '';
    try {
      text = await readFile(source, 'utf8');
    } catch {
      // No system resolv.conf: an empty copy; forwarded names get SERVFAIL until upstreams are configured.
    }
    await mkdir(dirname(saved), { recursive: true });
    await writeFileDurably(saved, withoutOwnNameservers(text, listeners), { mode: 0o644, owner: 'agent' });
  }
  return parseNameservers(await readFile(saved, 'utf8')).filter((ns) => !isOwnListener(ns, listeners));
}
