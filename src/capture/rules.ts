/**
 * The pure rule builder: capture inputs → the nat (and, with DNS capture, raw) rules Istio's
 * istio-iptables writes, per address family. Rules are `-A CHAIN …` lines in Istio's order and
 * spelling; canonical.ts makes them comparable with what iptables-save prints.
 */
import type { HostPort } from '../net/host-port.js';
import { assertCaptureInput } from './rule-values.js';

export type Family = 4 | 6;
export type TableName = 'nat' | 'raw';

/** Every chain this agent owns; jumps to them from built-in chains are ours too. */
export const OWNED_CHAINS = ['ISTIO_INBOUND', 'ISTIO_REDIRECT', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT', 'ISTIO_OUTPUT_DNS'] as const;
export const TABLES: readonly TableName[] = ['nat', 'raw'];
/** Istio's HBONE tunnel port: never captured inbound, never hair-pinned outbound. */
export const INBOUND_TUNNEL_PORT = 15008;

export interface DnsCaptureInput {
  /** Nameserver addresses (both families; each family's builder takes its own). */
  nameservers: readonly string[];
  /** The agent's DNS listener per family; a family without one captures no DNS. */
  listen: { 4?: HostPort; 6?: HostPort };
}

export interface CaptureInput {
  /** "*" = every port; a list = only those; empty = no inbound capture. */
  inboundPorts: '*' | readonly number[];
  /** RETURN before the catch-all when inboundPorts is "*". */
  inboundExcludePorts: readonly number[];
  /** CIDRs (or "*") whose outbound TCP goes to the outbound port. */
  serviceCIDRs: readonly string[];
  serviceExcludeCIDRs: readonly string[];
  proxyUids: readonly number[];
  proxyGids: readonly number[];
  /**
   * The agent's group: sockets of processes that have it among their groups (primary or
   * supplementary, `--suppl-groups`) bypass capture, so the agent's own CA, etcd and upstream DNS
   * traffic never loops through the proxy it provisions. Never a uid: root as such is captured.
   */
  agentGid?: number;
  outboundPort: number;
  inboundPort: number;
  dns?: DnsCaptureInput;
  /** Build ip6tables rules too. */
  ipv6: boolean;
}

export interface TableRules {
  table: TableName;
  /** Owned chains to create, in Istio's order. */
  chains: readonly string[];
  /** `-A CHAIN spec` lines, in Istio's order. */
  rules: readonly string[];
}

export type RuleSet = Record<Family, readonly TableRules[]>;

export function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4;
}

function hostCidr(address: string): string {
  return `${address}/${familyOf(address) === 4 ? 32 : 128}`;
}

export function buildRules(input: CaptureInput): RuleSet {
  return { 4: buildFamily(input, 4), 6: input.ipv6 ? buildFamily(input, 6) : [] };
}

export function buildFamily(input: CaptureInput, family: Family): TableRules[] {
  assertCaptureInput(input);
  const loopback = family === 4 ? '127.0.0.1/32' : '::1/128';
  const inboundPassthrough = family === 4 ? '127.0.0.6/32' : '::6/128';
  const listen = input.dns?.listen[family];
  const nameservers = listen === undefined ? [] : (input.dns?.nameservers ?? []).filter((ns) => familyOf(ns) === family);
  const dns = listen !== undefined && nameservers.length > 0;
  const tunnel = String(INBOUND_TUNNEL_PORT);

  const natChains = ['ISTIO_INBOUND', 'ISTIO_REDIRECT', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT', ...(dns ? ['ISTIO_OUTPUT_DNS'] : [])];
  const nat: string[] = [
    `-A ISTIO_INBOUND -p tcp --dport ${tunnel} -j RETURN`,
    `-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports ${input.outboundPort}`,
    `-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${input.inboundPort}`,
  ];

  if (input.inboundPorts === '*') {
    nat.push('-A PREROUTING -p tcp -j ISTIO_INBOUND');
    for (const port of input.inboundExcludePorts) nat.push(`-A ISTIO_INBOUND -p tcp --dport ${port} -j RETURN`);
    nat.push('-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT');
  } else if (input.inboundPorts.length > 0) {
    nat.push('-A PREROUTING -p tcp -j ISTIO_INBOUND');
    for (const port of input.inboundPorts) nat.push(`-A ISTIO_INBOUND -p tcp --dport ${port} -j ISTIO_IN_REDIRECT`);
  }

  nat.push('-A OUTPUT -j ISTIO_OUTPUT', `-A ISTIO_OUTPUT -o lo -s ${inboundPassthrough} -j RETURN`);
  // With DNS capture, TCP/53 over lo must reach ISTIO_OUTPUT_DNS rather than return early.
  const loReturn = dns ? '-o lo -p tcp ! --dport 53' : '-o lo';
  for (const uid of input.proxyUids) {
    const hairpin = dns ? '-m multiport ! --dports 53,15008' : `! --dport ${tunnel}`;
    nat.push(
      `-A ISTIO_OUTPUT -o lo ! -d ${loopback} -p tcp ${hairpin} -m owner --uid-owner ${uid} -j ISTIO_IN_REDIRECT`,
      `-A ISTIO_OUTPUT ${loReturn} -m owner ! --uid-owner ${uid} -j RETURN`,
      `-A ISTIO_OUTPUT -m owner --uid-owner ${uid} -j RETURN`,
    );
  }
  for (const gid of input.proxyGids) {
    nat.push(
      // Istio writes the gid hairpin without the port-53 exception, even with DNS capture.
      `-A ISTIO_OUTPUT -o lo ! -d ${loopback} -p tcp ! --dport ${tunnel} -m owner --gid-owner ${gid} -j ISTIO_IN_REDIRECT`,
      `-A ISTIO_OUTPUT ${loReturn} -m owner ! --gid-owner ${gid} -j RETURN`,
      `-A ISTIO_OUTPUT -m owner --gid-owner ${gid} -j RETURN`,
    );
  }
  const agent = input.agentGid === undefined ? [] : [`--gid-owner ${input.agentGid} --suppl-groups`];
  for (const owner of agent) nat.push(`-A ISTIO_OUTPUT -m owner ${owner} -j RETURN`);

  const raw: string[] = [];
  if (dns && listen !== undefined) {
    const owners = [...input.proxyUids.map((uid) => `--uid-owner ${uid}`), ...input.proxyGids.map((gid) => `--gid-owner ${gid}`), ...agent];
    // REDIRECT lands on the family's loopback address; any other listener address needs DNAT.
    const toListener = listenerTarget(listen, family);
    nat.push('-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS');
    for (const ns of nameservers) nat.push(`-A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d ${hostCidr(ns)} -j ${toListener}`);
    for (const owner of owners) nat.push(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner ${owner} -j RETURN`);
    for (const ns of nameservers) nat.push(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d ${hostCidr(ns)} -j ${toListener}`);

    // Conntrack zones keep the two legs of a redirected UDP exchange apart: app↔listener in
    // zone 2, agent↔upstream in zone 1 (their 5-tuples can collide after NAT).
    raw.push('-A OUTPUT -j ISTIO_OUTPUT_DNS');
    for (const owner of owners) {
      raw.push(
        `-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner ${owner} -j CT --zone 1`,
        `-A ISTIO_OUTPUT_DNS -p udp --sport ${listen.port} -m owner ${owner} -j CT --zone 2`,
      );
    }
    raw.push('-A PREROUTING -j ISTIO_INBOUND');
    for (const ns of nameservers) {
      raw.push(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d ${hostCidr(ns)} -j CT --zone 2`, `-A ISTIO_INBOUND -p udp --sport 53 -s ${hostCidr(ns)} -j CT --zone 1`);
    }
  }

  nat.push(`-A ISTIO_OUTPUT -d ${loopback} -j RETURN`);
  const cidrs = (list: readonly string[]): string[] => list.filter((c) => c !== '*' && familyOf(c) === family);
  for (const cidr of cidrs(input.serviceExcludeCIDRs)) nat.push(`-A ISTIO_OUTPUT -d ${cidr} -j RETURN`);
  if (input.serviceCIDRs.includes('*')) {
    nat.push('-A ISTIO_OUTPUT -j ISTIO_REDIRECT');
  } else {
    for (const cidr of cidrs(input.serviceCIDRs)) nat.push(`-A ISTIO_OUTPUT -d ${cidr} -j ISTIO_REDIRECT`);
  }

  const tables: TableRules[] = [{ table: 'nat', chains: natChains, rules: nat }];
  if (raw.length > 0) tables.push({ table: 'raw', chains: ['ISTIO_OUTPUT_DNS', 'ISTIO_INBOUND'], rules: raw });
  return tables;
}

function listenerTarget(listen: HostPort, family: Family): string {
  const any = family === 4 ? '0.0.0.0' : '::';
  const loop = family === 4 ? '127.0.0.1' : '::1';
  if (listen.host === any || listen.host === loop) return `REDIRECT --to-ports ${listen.port}`;
  return `DNAT --to-destination ${family === 4 ? listen.host : `[${listen.host}]`}:${listen.port}`;
}

/** Istio's restore-file rendering (`* nat`, `-N`, `-A`, `COMMIT`), for humans and docs. */
export function renderIstio(tables: readonly TableRules[]): string {
  return tables.map((t) => [`* ${t.table}`, ...t.chains.map((c) => `-N ${c}`), ...t.rules, 'COMMIT'].join('\n')).join('\n');
}
