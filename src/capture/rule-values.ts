/**
 * The last gate before rule text: every value the builder writes into iptables-restore input is a
 * port, an owner id, an address or a CIDR in plain form. The config schema and the host readers
 * (resolv.conf, /etc/passwd, /etc/group) check earlier; this gate keeps any path that skips them
 * from writing rule text nobody validated: a space or newline in a value would end the rule and
 * start another. Owner ids of 0 are refused here too: root never bypasses capture as such. Pure.
 */
import { isAccountId } from '../host/account-id.js';
import { isPlainIp } from '../net/address.js';
import { parseCidr } from '../net/cidr.js';
import { AgentError, ErrorCode } from '../errors.js';
import type { CaptureInput } from './rules.js';

function isPort(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

function isBypassId(value: unknown): boolean {
  return typeof value === 'number' && isAccountId(value) && value !== 0;
}

function isRuleCidr(value: unknown): boolean {
  return typeof value === 'string' && parseCidr(value) !== undefined && !value.includes('%');
}

/** Each problem names the input field and shows the refused value as JSON (control characters visible). */
export function captureInputProblems(input: CaptureInput): string[] {
  const problems: string[] = [];
  const check = (field: string, values: readonly unknown[], ok: (v: unknown) => boolean, want: string): void => {
    for (const value of values) if (!ok(value)) problems.push(`${field} ${JSON.stringify(value) ?? String(value)} is not ${want}`);
  };
  const port = 'a port (1-65535)';
  if (input.inboundPorts !== '*') check('inbound port', input.inboundPorts, isPort, port);
  check('excluded inbound port', input.inboundExcludePorts, isPort, port);
  check('outbound port', [input.outboundPort], isPort, port);
  check('inbound capture port', [input.inboundPort], isPort, port);
  const owner = 'a uid/gid other than 0 (root never bypasses capture)';
  check('proxy uid', input.proxyUids, isBypassId, owner);
  check('proxy gid', input.proxyGids, isBypassId, owner);
  if (input.agentGid !== undefined) check("agent's gid", [input.agentGid], isBypassId, owner);
  check('service CIDR', input.serviceCIDRs, (v) => v === '*' || isRuleCidr(v), 'a CIDR or "*"');
  check('excluded service CIDR', input.serviceExcludeCIDRs, isRuleCidr, 'a CIDR');
  if (input.dns !== undefined) {
    check('nameserver', input.dns.nameservers, (v) => typeof v === 'string' && isPlainIp(v), 'an IP address');
    for (const family of [4, 6] as const) {
      const listen = input.dns.listen[family];
      if (listen === undefined) continue;
      const host = listen.host;
      const sameFamily = isPlainIp(host) && (family === 4) === !host.includes(':');
      if (!sameFamily) problems.push(`DNS listener ${JSON.stringify(host)} is not an IPv${family} address`);
      check('DNS listener port', [listen.port], isPort, port);
    }
  }
  return problems;
}

export function assertCaptureInput(input: CaptureInput): void {
  const problems = captureInputProblems(input);
  if (problems.length > 0) {
    throw new AgentError(ErrorCode.UnsafeValue, `capture: refusing to write iptables rules: ${problems.join('; ')}; fix the config or the host file the value came from`);
  }
}
