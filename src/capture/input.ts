/**
 * Config (plus what was looked up on the host) → the builder's input. Pure. Here the agent's
 * safety rules are added: port 22 and the status port are never captured inbound, and the
 * agent's own traffic bypasses capture through its group.
 */
import type { Config } from '../config/schema.js';
import { parseHostPort, type HostPort } from '../net/host-port.js';
import type { Owner } from '../host/owner.js';
import { familyOf, type CaptureInput } from './rules.js';

export const SSH_PORT = 22;

export interface HostFacts {
  owner: Owner;
  /** capture.agentGroup's gid; the agent has it among its groups. */
  agentGid: number;
  nameservers: readonly string[];
}

export interface InputNotes {
  /** Ports removed from an explicit inbound list because they are never captured. */
  droppedInbound: number[];
  /** Nameservers not captured (no listener of their family, or the listener itself). */
  skippedNameservers: string[];
}

export function captureInput(config: Config, facts: HostFacts): { input: CaptureInput; notes: InputNotes } {
  const capture = config.capture;
  const statusPort = parseHostPort(config.status.listen)?.port;
  const never = [SSH_PORT, ...(statusPort === undefined ? [] : [statusPort])];
  const spec = capture.inboundPorts.trim();
  const listed = spec === '' || spec === '*' ? [] : [...new Set(spec.split(',').map((p) => Number(p.trim())))];
  const droppedInbound = listed.filter((p) => never.includes(p));
  const inboundPorts = spec === '*' ? '*' : listed.filter((p) => !never.includes(p));
  const inboundExcludePorts = [...new Set([...capture.localExcludePorts, ...never])];

  const listen: { 4?: HostPort; 6?: HostPort } = {};
  for (const text of config.dns.listen) {
    const hp = parseHostPort(text);
    if (hp === undefined) continue;
    const family = familyOf(hp.host);
    listen[family] ??= hp;
  }
  const skippedNameservers: string[] = [];
  const nameservers = capture.dns
    ? facts.nameservers.filter((ns) => {
        const target = listen[familyOf(ns)];
        const keep = target !== undefined && !(target.host === ns && target.port === 53);
        if (!keep) skippedNameservers.push(ns);
        return keep;
      })
    : [];

  const cidrs = [...capture.serviceCIDRs, ...capture.serviceExcludeCIDRs].filter((c) => c !== '*');
  const ipv6 = cidrs.some((c) => familyOf(c) === 6) || nameservers.some((ns) => familyOf(ns) === 6);
  const input: CaptureInput = {
    inboundPorts,
    inboundExcludePorts,
    serviceCIDRs: capture.serviceCIDRs,
    serviceExcludeCIDRs: capture.serviceExcludeCIDRs,
    proxyUids: [facts.owner.uid],
    proxyGids: [facts.owner.gid],
    agentGid: facts.agentGid,
    outboundPort: capture.outboundPort,
    inboundPort: capture.inboundPort,
    ...(capture.dns && nameservers.length > 0 ? { dns: { nameservers, listen } } : {}),
    ipv6,
  };
  return { input, notes: { droppedInbound, skippedNameservers } };
}
