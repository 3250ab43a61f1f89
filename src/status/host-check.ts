/**
 * DNS-rebinding defence for the loopback status endpoint: a web page the VM's browser (or any
 * local client that follows a name) loads can point its own name at 127.0.0.1 and read /status,
 * but it cannot choose the Host header, which still names the page's site. So requests are served
 * only when Host is a loopback name or address: localhost, 127.0.0.0/8 or [::1], with or without
 * a port. Pure.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isLoopback } from '../net/address.js';

export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(host.trim());
  if (m === null) return false;
  const v6 = m[1];
  if (v6 !== undefined) return isIPv6(v6) && isLoopback(v6);
  const name = (m[2] ?? '').toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || (isIPv4(name) && isLoopback(name));
}

/** The 421 body: what was refused, why, and what to use instead. */
export function refusedHostMessage(host: string | undefined): string {
  const shown = host === undefined ? 'no Host header' : `Host ${JSON.stringify(host.slice(0, 100))}`;
  return `${shown} refused: the status endpoint answers only requests addressed to a loopback name or address (localhost, 127.0.0.1, [::1]), as a defence against DNS rebinding; use http://127.0.0.1:PORT/, or set status.allowRemote: true to serve other names\n`;
}
