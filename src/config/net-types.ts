/** Small validators for the address shapes the config uses. Pure, no I/O. */
import { isIPv4, isIPv6 } from 'node:net';

export function isIp(value: string): boolean {
  return isIPv4(value) || isIPv6(value);
}

export interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

export function parseCidr(value: string): Cidr | undefined {
  const slash = value.indexOf('/');
  if (slash < 0) return undefined;
  const address = value.slice(0, slash);
  const prefixText = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (isIPv4(address) && prefix <= 32) return { address, prefix, family: 4 };
  if (isIPv6(address) && prefix <= 128) return { address, prefix, family: 6 };
  return undefined;
}

/** A dotted quad (already validated) as an integer; a character loop, as it runs per peer. */
export function ipv4ToInt(address: string): number {
  let acc = 0;
  let octet = 0;
  for (let i = 0; i < address.length; i += 1) {
    const ch = address.charCodeAt(i);
    if (ch === 46) {
      acc = acc * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (ch - 48);
    }
  }
  return acc * 256 + octet;
}

export function intToIpv4(value: number): string {
  return `${Math.floor(value / 16777216) % 256}.${Math.floor(value / 65536) % 256}.${Math.floor(value / 256) % 256}.${value % 256}`;
}

/** IPv4 network as [first, last] integer addresses. */
export function ipv4Range(cidr: Cidr): [number, number] {
  const size = 2 ** (32 - cidr.prefix);
  const first = Math.floor(ipv4ToInt(cidr.address) / size) * size;
  return [first, first + size - 1];
}

export function isNetworkAddress(cidr: Cidr): boolean {
  return cidr.family !== 4 || ipv4Range(cidr)[0] === ipv4ToInt(cidr.address);
}

export function isMac(value: string): boolean {
  return /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value);
}

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

export function isLoopback(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return host === 'localhost';
}

/** An IP literal without an IPv6 zone (`fe80::1%eth0`): the form iptables and sockets take as is. */
export function isPlainIp(value: string): boolean {
  return isIp(value) && !value.includes('%');
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

/** A uid or gid as the kernel takes it (2^32-1 is the "no id" value). */
export function isAccountId(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 4_294_967_294;
}
