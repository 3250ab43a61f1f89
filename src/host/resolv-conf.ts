/**
 * resolv.conf as the agent reads it, shared by the DNS controller (its default upstreams) and
 * capture (the nameservers whose traffic it redirects). Both use the copy the DNS controller saves
 * in stateDir before the host is pointed at the agent.
 */
import { isIP } from 'node:net';
import { join } from 'node:path';

export const SYSTEM_RESOLV_CONF = '/etc/resolv.conf';

export function savedResolvConfPath(stateDir: string): string {
  return join(stateDir, 'resolv.conf');
}

/** Pure: `nameserver` addresses in order, deduplicated; comments and zone suffixes (fe80::1%eth0) dropped. */
export function parseNameservers(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const address = /^nameserver\s+(\S+)$/.exec(line)?.[1]?.replace(/%.*$/, '');
    if (address !== undefined && isIP(address) !== 0 && !out.includes(address)) out.push(address);
  }
  return out;
}
