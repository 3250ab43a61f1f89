/** Address literals: IPs (what the config, the capture rules and the listeners accept) and MACs. Pure. */
import { isIPv4, isIPv6 } from 'node:net';

export function isIp(value: string): boolean {
  return isIPv4(value) || isIPv6(value);
}

/** An IP literal without an IPv6 zone (`fe80::1%eth0`): the form iptables and sockets take as is. */
export function isPlainIp(value: string): boolean {
  return isIp(value) && !value.includes('%');
}

export function isLoopback(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return host === 'localhost';
}

/** A link-layer address as `ip link` prints it (the VTEP MACs of the overlay). */
export function isMac(value: string): boolean {
  return /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value);
}
