/**
 * Shared pieces of the DNS namespace tests: dnsmasq instances (kube-dns stand-in, external
 * upstream, reference resolver), dig/kdig runs parsed into rcode/flags/answers, and the agent's
 * /status dns section. Not a test file itself.
 */
import type { ChildProcess } from 'node:child_process';
import { waitFor } from '../helpers/exec.js';
import type { AgentHandle } from '../helpers/agent-process.js';
import type { Netns } from '../helpers/netns.js';

/** Starts dnsmasq on one address inside `ns` with no system config; waits until it answers. */
export async function startDnsmasq(ns: Netns, address: string, args: readonly string[]): Promise<ChildProcess> {
  const port = /^--port=(\d+)$/.exec(args.find((a) => a.startsWith('--port=')) ?? '')?.[1] ?? '53';
  const proc = ns.spawn('dnsmasq', ['-k', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--bind-interfaces', `--listen-address=${address}`, '--user=root', '--pid-file=', ...args]);
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  await waitFor(
    `dnsmasq on ${address}`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited ${proc.exitCode}: ${stderr}`);
      const r = await ns.run('dig', [`@${address}`, '-p', port, '+tries=1', '+time=1', '+short', 'version.bind', 'CH', 'TXT']);
      return r.code === 0 && r.stdout.trim() !== '';
    },
    10_000,
    100,
  );
  return proc;
}

export interface DigAnswer {
  status: string;
  flags: string[];
  /** "name type data" lines, lowercased names, sorted (TTL left out). */
  answers: string[];
  ttls: number[];
  raw: string;
}

/** Runs dig (or kdig) in the namespace and parses its answer. */
export async function dig(ns: Netns, server: string, name: string, type = 'A', extra: readonly string[] = [], tool: 'dig' | 'kdig' = 'dig'): Promise<DigAnswer> {
  const [host, port] = server.includes('#') ? server.split('#') : [server, '53'];
  const args = tool === 'dig' ? [`@${host}`, '-p', port ?? '53', '+tries=1', '+time=4', '+noall', '+comments', '+answer', ...extra, name, type] : [`@${host}`, '-p', port ?? '53', '+retry=0', '+time=4', '+noall', '+header', '+answer', ...extra, name, type];
  const r = await ns.run(tool, args);
  const raw = r.stdout;
  const status = /status: ([A-Z]+)/.exec(raw)?.[1] ?? `no answer (${tool} exit ${r.code}: ${r.stderr.trim()} ${raw.trim()})`;
  const flags = (/flags: ([a-z ]+);/.exec(raw)?.[1] ?? '').trim().split(/\s+/);
  const rrs = raw
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(';'))
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && f[2] === 'IN');
  return {
    status,
    flags,
    answers: rrs.map((f) => `${(f[0] ?? '').toLowerCase()} ${f[3]} ${f.slice(4).join(' ')}`).sort(),
    ttls: rrs.map((f) => Number(f[1])),
    raw,
  };
}

export interface DnsStatus {
  queries: number;
  bySource: Record<string, number>;
  byRcode: Record<string, number>;
  truncated: number;
  cache: { size: number; hits: number; misses: number; hitRate: number };
  upstreams: { source: string; servers: string[]; health: { server: string; healthy: boolean; queries: number; failures: number }[] };
  listeners: { address: string; udp: 'batch' | 'dgram' }[];
  mesh: { hosts: number; problems: { file: string; reason: string }[]; allocated: { host: string; vip: string }[] };
  ready: boolean;
  reason?: string;
}

export async function dnsStatus(agent: AgentHandle): Promise<DnsStatus> {
  const body = JSON.parse((await agent.get('/status')).body) as { controllers: { dns: DnsStatus } };
  return body.controllers.dns;
}

export function upstreamQueries(s: DnsStatus, server: string): number {
  return s.upstreams.health.find((h) => h.server === server)?.queries ?? 0;
}
