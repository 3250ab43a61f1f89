/** HOST:PORT values (listeners, servers, the CA address) and DNS host names. Pure. */
import { isIPv6 } from 'node:net';
import { isPlainIp } from './address.js';

export interface HostPort {
  host: string;
  port: number;
}

/** "127.0.0.1:53", "[::1]:53", or "127.0.0.1" with a default port. */
export function parseHostPort(value: string, defaultPort?: number): HostPort | undefined {
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (isIPv6(value)) {
    host = value;
  } else {
    const colon = value.lastIndexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    portText = colon < 0 ? undefined : value.slice(colon + 1);
  }
  if (host === '') return undefined;
  if (portText === undefined) return defaultPort === undefined ? undefined : { host, port: defaultPort };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port > 0 && port <= 65535 ? { host, port } : undefined;
}

/** The inverse of parseHostPort: IPv6 hosts in brackets. */
export function formatHostPort(address: HostPort): string {
  return isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** "IP:PORT" (IPv6 in brackets) with an address, never a name: for values written into rules. */
export function parseIpPort(value: string, defaultPort?: number): HostPort | undefined {
  const hp = parseHostPort(value, defaultPort);
  return hp !== undefined && isPlainIp(hp.host) ? hp : undefined;
}

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** A DNS host name: dot-separated labels of letters, digits, `-` and `_`, 253 characters at most. */
export function isHostName(value: string): boolean {
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}
