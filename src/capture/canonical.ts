/**
 * The canonical text of one rule, as iptables-save prints it: addresses, interfaces and protocol
 * first, implicit `-m tcp`/`-m udp` spelled out, host addresses with their prefix. Built rules
 * and installed rules are compared in this form, so the builder may write Istio's spelling.
 * Pure.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AgentError, ErrorCode } from '../errors.js';

const ADDR_FLAGS: Record<string, 's' | 'd' | 'i' | 'o' | 'p'> = {
  '-s': 's',
  '--source': 's',
  '--src': 's',
  '-d': 'd',
  '--destination': 'd',
  '--dst': 'd',
  '-i': 'i',
  '--in-interface': 'i',
  '-o': 'o',
  '--out-interface': 'o',
  '-p': 'p',
  '--protocol': 'p',
};
const PORT_OPTIONS = new Set(['--dport', '--sport', '--destination-port', '--source-port']);
const TARGET_ALIASES: Record<string, string> = { '--to-port': '--to-ports' };

/** Splits a rule into words; double-quoted words keep their spaces (iptables-save quotes comments). */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] !== undefined ? `"${m[1]}"` : (m[2] ?? ''));
  return out;
}

function ipv4Network(address: string, prefix: number): string {
  const value = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(value / size) * size;
  return [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
}

function ipv6Network(address: string, prefix: number): string {
  // The WHATWG URL parser expands nothing but prints RFC 5952 form: normalise, mask, print again.
  const normal = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [left = '', right] = normal.split('::');
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined ? leftGroups : [...leftGroups, ...Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'), ...rightGroups];
  let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  const hostBits = BigInt(128 - prefix);
  value = (value >> hostBits) << hostBits;
  const out: string[] = [];
  for (let i = 7; i >= 0; i -= 1) out.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return new URL(`http://[${out.join(':')}]/`).hostname.slice(1, -1);
}

/** "10.1.0.0/16", "127.0.0.53" → "127.0.0.53/32", IPv6 in its shortest form. Anything else as is. */
export function canonicalAddress(value: string): string {
  const slash = value.indexOf('/');
  const host = slash < 0 ? value : value.slice(0, slash);
  const prefixText = slash < 0 ? undefined : value.slice(slash + 1);
  if (isIPv4(host)) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    return `${ipv4Network(host, prefix)}/${prefix}`;
  }
  if (isIPv6(host)) {
    const prefix = prefixText === undefined ? 128 : Number(prefixText);
    return `${ipv6Network(host, prefix)}/${prefix}`;
  }
  return value;
}

/** `-A CHAIN spec` → { chain, spec } with spec canonical. */
export function canonicalRule(line: string): { chain: string; spec: string } {
  const tokens = tokenize(line.trim());
  if (tokens[0] !== '-A' || tokens[1] === undefined) throw new AgentError(ErrorCode.IptablesFailed, `not an append rule: ${line}`);
  return { chain: tokens[1], spec: canonicalSpec(tokens.slice(2)) };
}

export function canonicalSpec(tokens: readonly string[]): string {
  const head: Partial<Record<'s' | 'd' | 'i' | 'o' | 'p', { neg: boolean; value: string }>> = {};
  const matches: string[] = [];
  const target: string[] = [];
  let negate = false;
  let module = '';
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i] ?? '';
    if (token === '!') {
      negate = true;
      continue;
    }
    const key = ADDR_FLAGS[token];
    if (key !== undefined) {
      const raw = tokens[(i += 1)] ?? '';
      head[key] = { neg: negate, value: key === 's' || key === 'd' ? canonicalAddress(raw) : raw };
      negate = false;
      continue;
    }
    if (token === '-j' || token === '--jump') {
      target.push('-j', ...tokens.slice(i + 1).map((t) => TARGET_ALIASES[t] ?? t));
      break;
    }
    if (token === '-m' || token === '--match') {
      module = tokens[i + 1] ?? '';
    } else if (PORT_OPTIONS.has(token) && module !== 'tcp' && module !== 'udp' && head.p !== undefined) {
      // iptables loads the protocol's match implicitly and iptables-save prints it.
      module = head.p.value;
      matches.push('-m', module);
    }
    if (negate) matches.push('!');
    negate = false;
    matches.push(token);
  }
  const out: string[] = [];
  for (const key of ['s', 'd', 'i', 'o', 'p'] as const) {
    const part = head[key];
    if (part !== undefined) out.push(...(part.neg ? ['!'] : []), `-${key}`, part.value);
  }
  return [...out, ...matches, ...target].join(' ');
}
