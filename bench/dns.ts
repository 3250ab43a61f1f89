/**
 * `npm run bench -- dns [--seconds N] [--fixed-rounds N] [--scenarios abc] [--node-flags=F1,F2]`: dnsperf against the agent and against dnsmasq configured
 * equivalently (same records, same kube-dns and upstream dnsmasq), in one run, inside a network
 * namespace. Scenarios: (a) static answers (dns.hosts + .global), (b) forwarded names served from
 * the cache, (c) forwarding with a 30% miss rate. For each: saturated qps and average latency
 * (dnsperf -c 4 -q 200, median of alternating rounds), then latency at a fixed rate both sustain
 * (-Q, -v): every query's latency from several rounds, alternating which server goes first,
 * pooled per server, so the p99 rests on 5000 x 5 x rounds samples rather than on one noisy run;
 * beside it the median over rounds of the paired ratio (round k of the agent against round k of
 * dnsmasq, run back to back), which a hiccup of the machine during one round cannot move. In the
 * fixed-rate rounds of (a) and (b) a third server takes part, bench/udp-echo.c: no DNS, datagrams
 * straight back; its p99 against dnsmasq is the floor of the comparison on this machine.
 * Prints ratios agent/dnsmasq and the agent's RSS after at least 1M queries. Beside the saturated qps, the
 * CPU time each server's process used per answered query over those runs (from /proc): on a shared
 * machine the qps of both sides follows what the other processes leave them, the CPU per query much less.
 *
 * The agent runs as packaged: the scripts/build.mjs bundle (with the native udp_batch.node beside
 * it) under the node flags of the shipped launcher's exec line (debian/launcher/mesh-node-agent),
 * plus any --node-flags. The table names the UDP path the agent used (batch or dgram);
 * MNA_DNS_UDP=dgram in the environment benchmarks the fallback.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { waitFor } from '../test/helpers/exec.js';
import { createNetns, type Netns } from '../test/helpers/netns.js';
import { launcherNodeFlags, shippedBuild } from './_shipped.js';
import { quantile } from './_stats.js';

const AGENT = '127.0.0.1';
const KUBE_DNS = '127.0.0.2';
const UPSTREAM = '127.0.0.3';
const DNSMASQ = '127.0.0.5';
/** bench/udp-echo.c: no DNS at all, the machine's latency floor. */
const FLOOR = '127.0.0.6';
const STATUS_PORT = 15099;
const FIXED_QPS = 5000;
const FIXED_SECONDS = 5;
const ROUNDS = 3;
const FIXED_ROUNDS = 10;

const SEED_NAMES = ['istio-mixer', 'istio-policy', 'istio-telemetry', 'istio-pilot', 'istio-citadel', 'istio-ca'].flatMap((n) => [n, `${n}.istio-system`]);
const GLOBALS = Array.from({ length: 20 }, (_, i) => ({ host: `svc${i}.ns${i % 3}.global`, address: `240.0.0.${i + 2}` }));
const CACHED_NAMES = 2000;

interface PerfResult {
  qps: number;
  avgMs: number;
  lost: number;
  completed: number;
}

/** Fixed-rate latency of one server, from every query of every round. */
interface LatencyResult {
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  /** The lowest and highest p99 of a single round: how much one run alone could mislead. */
  roundP99Ms: [number, number];
  /** Each round's p99, in round order (round k of both servers ran back to back). */
  perRoundP99Ms: number[];
  samples: number;
}

function parseSummary(out: string): PerfResult {
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 'NaN');
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    lost: num(/Queries lost:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
  };
}

/** Per-query latencies (ms) from dnsperf -v output. */
function latenciesMs(out: string): number[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('> '))
    .map((l) => Number(l.trim().split(/\s+/).pop()) * 1000)
    .filter((n) => Number.isFinite(n));
}

/** The median, averaging the middle two of an even count (no lean toward either side). */
function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length / 2;
  return sorted.length % 2 === 1 ? sorted[Math.floor(m)]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

function pooled(rounds: readonly number[][]): LatencyResult {
  const all = rounds.flat();
  const perRound = rounds.map((r) => quantile(r, 0.99));
  return {
    avgMs: all.reduce((a, b) => a + b, 0) / all.length,
    p50Ms: quantile(all, 0.5),
    p99Ms: quantile(all, 0.99),
    roundP99Ms: [Math.min(...perRound), Math.max(...perRound)],
    perRoundP99Ms: perRound,
    samples: all.length,
  };
}

/** Builds and starts bench/udp-echo.c in the namespace; without a C compiler, says why there is no floor. */
async function startFloor(ns: Netns, dir: string): Promise<{ server?: string; reason?: string }> {
  const bin = join(dir, 'udp-echo');
  const cc = spawnSync('cc', ['-O2', '-o', bin, join(dirname(fileURLToPath(import.meta.url)), 'udp-echo.c')], { encoding: 'utf8' });
  if (cc.status !== 0) return { reason: `cc bench/udp-echo.c: ${cc.error?.message ?? cc.stderr.trim()}` };
  ns.spawn(bin, [FLOOR]);
  await waitFor('the udp-echo floor', async () => (await ns.run('dig', [`@${FLOOR}`, '+tries=1', '+time=1', 'floor.test'])).code === 0, 10_000, 100);
  return { server: FLOOR };
}

async function dnsperf(ns: Netns, server: string, file: string, args: string[]): Promise<{ out: string; result: PerfResult }> {
  const r = await ns.run('dnsperf', ['-s', server, '-d', file, '-t', '2', ...args]);
  if (r.code !== 0) throw new Error(`dnsperf failed: ${r.stderr}`);
  return { out: r.stdout, result: parseSummary(r.stdout) };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time (user and system) a process has used so far, µs (/proc/PID/stat utime and stime). */
async function cpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) ", state is the first field; utime and stime are the 12th and 13th from there.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN') / 1024;
}

function spawnDnsmasq(ns: Netns, address: string, args: string[]): ChildProcess {
  return ns.spawn('dnsmasq', ['-k', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--bind-interfaces', `--listen-address=${address}`, '--user=root', '--pid-file=', ...args]);
}

async function waitAnswers(ns: Netns, server: string): Promise<void> {
  await waitFor(`DNS on ${server}`, async () => (await ns.run('dig', [`@${server}`, '+tries=1', '+time=1', '+short', 'istio-pilot'])).stdout.trim() === '192.168.0.62', 20_000, 100);
}

async function agentDns(ns: Netns, expr: string): Promise<string> {
  const script = `fetch('http://127.0.0.1:${STATUS_PORT}/status').then(r=>r.json()).then(j=>console.log(j.controllers.dns${expr}))`;
  return (await ns.must(process.execPath, ['-e', script])).trim();
}

async function agentQueries(ns: Netns): Promise<number> {
  return Number(await agentDns(ns, '.queries'));
}

const fmt = (n: number | undefined, digits = 0): string => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

export async function main(args: string[]): Promise<void> {
  const secondsAt = args.indexOf('--seconds');
  const seconds = secondsAt >= 0 ? Number(args[secondsAt + 1]) : 5;
  const roundsAt = args.indexOf('--fixed-rounds');
  const fixedRounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : FIXED_ROUNDS;
  // A subset of the scenarios by letter (`--scenarios c`), for working on one path; the default is all three.
  const scenariosAt = args.indexOf('--scenarios');
  const letters = scenariosAt >= 0 ? (args[scenariosAt + 1] ?? '') : 'abc';
  const scenarios = ['a static answers', 'b cache hits', 'c 30% misses'].filter((s) => letters.includes(s[0]!));
  if (scenarios.length === 0) throw new Error(`--scenarios ${letters}: name one or more of a, b, c`);
  // Extra flags after the launcher's, e.g. --node-flags=--max-old-space-size=64 (what NODE_OPTIONS would add)
  const extraFlags = (args.find((a) => a.startsWith('--node-flags='))?.slice('--node-flags='.length) ?? '').split(',').filter((f) => f !== '');
  const nodeFlags = [...(await launcherNodeFlags()), ...extraFlags];
  const dir = await mkdtemp(join(tmpdir(), 'mna-bench-dns-'));
  const shipped = await shippedBuild();

  const ns = await createNetns('dnsb');
  try {
    spawnDnsmasq(ns, KUBE_DNS, ['--address=/svc.cluster.local/10.233.0.10', '--local-ttl=3600']);
    // The external upstream: every name answers with a long TTL, so both resolvers can cache it.
    spawnDnsmasq(ns, UPSTREAM, ['--address=/#/10.1.2.3', '--local-ttl=3600', '--cache-size=0', '--dns-forward-max=10000']);
    const se = GLOBALS.map((g) => stringify({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'ServiceEntry', metadata: { name: g.host.replace(/\./g, '-') }, spec: { hosts: [g.host], addresses: [g.address], resolution: 'DNS' } })).join('---\n');
    await writeFile(join(dir, 'se.yaml'), se);
    const ref = [
      `server=/svc.cluster.local/${KUBE_DNS}`,
      ...SEED_NAMES.flatMap((n) => [`address=/${n}/192.168.0.62`, `local=/${n}/`]),
      ...GLOBALS.map((g) => `host-record=${g.host},${g.address}`),
      `server=${UPSTREAM}`,
      'cache-size=10000',
      'local-ttl=30',
      'dns-forward-max=1024',
    ].join('\n');
    await writeFile(join(dir, 'dnsmasq.conf'), `${ref}\n`);
    const reference = spawnDnsmasq(ns, DNSMASQ, [`--conf-file=${join(dir, 'dnsmasq.conf')}`]);
    const config = {
      stateDir: join(dir, 'state'),
      log: { level: 'warn' },
      istio: { clusterEnv: join(dir, 'none.env'), sidecarEnv: join(dir, 'none.env') },
      status: { listen: `127.0.0.1:${STATUS_PORT}` },
      identity: { enabled: false },
      dns: {
        enabled: true,
        listen: [`${AGENT}:53`],
        upstreams: [UPSTREAM],
        hosts: SEED_NAMES.map((name) => ({ name, addresses: ['192.168.0.62'] })),
        forward: [{ domain: 'svc.cluster.local', servers: [KUBE_DNS] }],
        serviceEntries: { paths: [join(dir, 'se.yaml')] },
        ttl: 30,
        cache: { size: 10000, maxTTL: 3600, negativeTTL: 30 },
      },
    };
    await writeFile(join(dir, 'config.yaml'), stringify(config));
    const agent = ns.spawn(process.execPath, shipped.argv(['run', '--config', join(dir, 'config.yaml')], extraFlags));
    let agentLog = '';
    agent.stderr?.on('data', (c: Buffer) => (agentLog += c.toString()));
    agent.stdout?.on('data', (c: Buffer) => (agentLog += c.toString()));
    await waitAnswers(ns, DNSMASQ);
    await waitAnswers(ns, AGENT).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${agentLog}`);
    });

    // Query files.
    const staticLines = [...SEED_NAMES.map((n) => `${n} A`), ...SEED_NAMES.map((n) => `x.${n} A`), ...GLOBALS.map((g) => `${g.host} A`)];
    await writeFile(join(dir, 'static.txt'), `${staticLines.join('\n')}\n`);
    const cachedLines = Array.from({ length: CACHED_NAMES }, (_, i) => `n${i}.example.com A`);
    await writeFile(join(dir, 'cached.txt'), `${cachedLines.join('\n')}\n`);
    const missFile = async (name: string, lines: number, tag: string): Promise<string> => {
      const out: string[] = [];
      for (let i = 0; i < lines; i++) out.push(i % 10 < 3 ? `m${i}-${tag}.miss.example A` : cachedLines[i % CACHED_NAMES]!);
      const path = join(dir, name);
      await writeFile(path, `${out.join('\n')}\n`);
      return path;
    };

    const targets = [
      { name: 'agent', server: AGENT, pid: agent.pid ?? 0 },
      { name: 'dnsmasq', server: DNSMASQ, pid: reference.pid ?? 0 },
    ];
    // The floor takes the fixed-rate rounds of (a) and (b) with the others: what no server can beat here.
    const floor = await startFloor(ns, dir);
    // Warm both caches with the cached set.
    for (const t of targets) await dnsperf(ns, t.server, join(dir, 'cached.txt'), ['-n', '1', '-c', '2', '-q', '50']);

    const sat = ['-c', '4', '-q', '200'];
    const fixed = ['-Q', String(FIXED_QPS), '-c', '4', '-q', '200', '-v'];
    const rows: { scenario: string; target: string; sat: PerfResult | undefined; cpuPerQuery: number | undefined; fixed: LatencyResult }[] = [];
    const median = (runs: PerfResult[]): PerfResult => [...runs].sort((a, b) => a.qps - b.qps)[Math.floor(runs.length / 2)]!;
    // The machine may be shared: alternate the targets, and which goes first, round by round, so a
    // load spike or a drift hits both sides instead of one.
    const inTurn = <T>(round: number, list: readonly T[]): T[] => (round % 2 === 0 ? [...list] : [...list].reverse());
    for (const scenario of scenarios) {
      const satRuns = new Map<string, PerfResult[]>(targets.map((t) => [t.name, []]));
      const satCpu = new Map<string, { micros: number; queries: number }>(targets.map((t) => [t.name, { micros: 0, queries: 0 }]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of inTurn(round, targets)) {
          let file: string;
          let limit: string[];
          if (scenario.startsWith('a')) [file, limit] = [join(dir, 'static.txt'), ['-l', String(seconds)]];
          else if (scenario.startsWith('b')) [file, limit] = [join(dir, 'cached.txt'), ['-l', String(seconds)]];
          // One pass over a file of fresh names, so a miss is never a hit on a later pass.
          else [file, limit] = [await missFile(`miss-sat-${t.name}.txt`, 60_000 * seconds, `s${round}${t.name}`), ['-n', '1', '-l', String(seconds)]];
          const cpuBefore = await cpuMicros(t.pid);
          const { result } = await dnsperf(ns, t.server, file, [...sat, ...limit]);
          const cpu = satCpu.get(t.name)!;
          cpu.micros += (await cpuMicros(t.pid)) - cpuBefore;
          cpu.queries += result.completed;
          satRuns.get(t.name)!.push(result);
        }
      }
      const fixedTargets = floor.server !== undefined && !scenario.startsWith('c') ? [...targets, { name: 'floor', server: floor.server }] : targets;
      const fixedRuns = new Map<string, number[][]>(fixedTargets.map((t) => [t.name, []]));
      for (let round = 0; round < fixedRounds; round++) {
        for (const t of inTurn(round, fixedTargets)) {
          const limit = ['-l', String(FIXED_SECONDS)];
          let run: { out: string };
          if (scenario.startsWith('a')) run = await dnsperf(ns, t.server, join(dir, 'static.txt'), [...fixed, ...limit]);
          else if (scenario.startsWith('b')) run = await dnsperf(ns, t.server, join(dir, 'cached.txt'), [...fixed, ...limit]);
          else run = await dnsperf(ns, t.server, await missFile(`miss-fixed-${t.name}.txt`, FIXED_QPS * FIXED_SECONDS, `f${round}${t.name}`), [...fixed, '-n', '1', ...limit]);
          fixedRuns.get(t.name)!.push(latenciesMs(run.out));
        }
      }
      for (const t of fixedTargets) {
        const cpu = satCpu.get(t.name);
        rows.push({ scenario, target: t.name, sat: satRuns.has(t.name) ? median(satRuns.get(t.name)!) : undefined, cpuPerQuery: cpu === undefined ? undefined : cpu.micros / cpu.queries, fixed: pooled(fixedRuns.get(t.name)!) });
      }
    }

    const udpPath = await agentDns(ns, '.listeners[0].udp');
    const pid = agent.pid ?? 0;
    let total = await agentQueries(ns);
    while (total < 1_000_000) {
      await dnsperf(ns, AGENT, join(dir, 'static.txt'), [...sat, '-l', '5']);
      total = await agentQueries(ns);
    }
    const rss = await rssMb(pid);

    console.log(`\nDNS benchmark (dnsperf, loopback in a namespace; saturated: -c 4 -q 200, median of ${ROUNDS} alternating ${seconds}s runs; fixed rate: -Q ${FIXED_QPS} for ${FIXED_SECONDS}s x ${fixedRounds} alternating rounds, every query's latency pooled; agent UDP path: ${udpPath})\n`);
    console.log('scenario          target    sat qps   sat avg ms  lost  cpu µs/q | fixed avg ms  p50 ms  p99 ms  (one round p99 ms)');
    for (const r of rows) {
      const f = r.fixed;
      console.log(
        `${r.scenario.padEnd(17)} ${r.target.padEnd(8)} ${fmt(r.sat?.qps).padStart(9)} ${fmt(r.sat?.avgMs, 3).padStart(11)} ${fmt(r.sat?.lost).padStart(5)} ${fmt(r.cpuPerQuery, 1).padStart(9)} | ${fmt(f.avgMs, 3).padStart(12)} ${fmt(f.p50Ms, 3).padStart(7)} ${fmt(f.p99Ms, 3).padStart(7)}  (${fmt(f.roundP99Ms[0], 3)}-${fmt(f.roundP99Ms[1], 3)})`,
      );
    }
    console.log('\nratios agent/dnsmasq (qps: higher is better; cpu/q: dnsmasq\'s CPU per query over the agent\'s, higher is better; latency: lower is better)');
    for (const scenario of [...new Set(rows.map((r) => r.scenario))]) {
      const a = rows.find((r) => r.scenario === scenario && r.target === 'agent')!;
      const d = rows.find((r) => r.scenario === scenario && r.target === 'dnsmasq')!;
      const f = rows.find((r) => r.scenario === scenario && r.target === 'floor');
      const paired = (x: LatencyResult): number => middle(x.perRoundP99Ms.map((p, k) => p / d.fixed.perRoundP99Ms[k]!));
      console.log(
        `${scenario.padEnd(17)} qps ${fmt(a.sat!.qps / d.sat!.qps, 2)}x   cpu/q ${fmt(d.cpuPerQuery! / a.cpuPerQuery!, 2)}x   sat avg ${fmt(a.sat!.avgMs / d.sat!.avgMs, 2)}x   fixed avg ${fmt(a.fixed.avgMs / d.fixed.avgMs, 2)}x   fixed p50 ${fmt(a.fixed.p50Ms / d.fixed.p50Ms, 2)}x   fixed p99 ${fmt(a.fixed.p99Ms / d.fixed.p99Ms, 2)}x (paired rounds: median ${fmt(paired(a.fixed), 2)}x)${f === undefined ? '' : `   floor p99 ${fmt(f.fixed.p99Ms / d.fixed.p99Ms, 2)}x (paired ${fmt(paired(f.fixed), 2)}x)`}`,
      );
    }
    if (floor.server === undefined) console.log(`\nfloor not measured: ${floor.reason}`);
    console.log(`\nagent RSS after ${total} queries: ${rss.toFixed(1)} MB (target <= 100 MB; node flags: ${nodeFlags.join(' ') || 'none'}; UDP path: ${udpPath})`);
  } finally {
    await ns.destroy();
    await rm(dir, { recursive: true, force: true });
    await shipped.cleanup();
  }
}
