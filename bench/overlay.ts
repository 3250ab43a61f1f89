/**
 * `npm run bench -- overlay [N]`: programs N peers (default 5000, 3N kernel objects) through the
 * agent's netlink path in one namespace and, in the same run, the same objects with
 * `ip -batch` + `bridge -batch` in another; prints both and the ratio (target ≤ 1.5). Also: a
 * no-change resync (target ≤ 150 ms, zero writes), the latency of a single peer change (target
 * ≤ 10 ms) and the real agent's RSS with N peers (target ≤ 120 MB).
 */
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { REPO_ROOT, cliArgv } from '../test/helpers/agent-process.js';
import { testPort } from '../test/helpers/ports.js';
import { must, run, waitFor } from '../test/helpers/exec.js';
import { createNetns, type Netns } from '../test/helpers/netns.js';
import { median } from './_stats.js';

function peer(i: number): { subnet: string; vtep: string; publicIP: string; vtepMAC: string } {
  const subnet = `10.${(i >> 8) & 255}.${i & 255}.0/24`;
  const publicIP = `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${(i & 255) || 1}`;
  const vtepMAC = `02:00:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  return { subnet, vtep: subnet.replace(/\/24$/, ''), publicIP, vtepMAC };
}

/** An underlay NIC: a veth whose far end stays in the same namespace. */
async function underlay(ns: Netns): Promise<void> {
  await ns.sh('ip link add eth0 type veth peer name eth0p; ip addr add 192.168.0.81/24 dev eth0; ip link set eth0p up; ip link set eth0 up');
}

interface WorkerResult {
  n: number;
  startMs: number;
  programMs: number;
  programWrites: number;
  programmed: number;
  resyncMedianMs: number;
  resyncMaxMs: number;
  resyncWrites: number;
  changeMedianMs: number;
  changeP95Ms: number;
  afterChangesWrites: number;
  workerRssMb: number;
  errors: string[];
}

async function viaAgentPath(n: number): Promise<WorkerResult> {
  const ns = await createNetns('ovb');
  const stateDir = await mkdtemp(join(tmpdir(), 'mna-ovb-state-'));
  try {
    await underlay(ns);
    const r = await run('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench/_overlay-worker.ts'), String(n), stateDir], { cwd: REPO_ROOT, timeout: 300_000 });
    if (r.code !== 0) throw new Error(`worker failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as WorkerResult;
  } finally {
    await ns.destroy();
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function viaBatch(n: number): Promise<number> {
  const ns = await createNetns('ovb');
  try {
    await underlay(ns);
    await ns.sh('ip link add flannel.1 address 02:ff:00:00:00:01 type vxlan id 1 local 192.168.0.81 dev eth0 dstport 8472 nolearning; ip addr add 10.255.255.0/32 dev flannel.1; ip link set flannel.1 up');
    let neigh = '';
    let fdb = '';
    let routes = '';
    for (let i = 1; i <= n; i++) {
      const p = peer(i);
      neigh += `neigh add ${p.vtep} lladdr ${p.vtepMAC} dev flannel.1 nud permanent\n`;
      fdb += `fdb add ${p.vtepMAC} dev flannel.1 dst ${p.publicIP} self permanent\n`;
      routes += `route add ${p.subnet} via ${p.vtep} dev flannel.1 onlink proto boot\n`;
    }
    const t0 = performance.now();
    await must('ip', ['netns', 'exec', ns.name, 'ip', '-batch', '-'], { input: neigh });
    await must('ip', ['netns', 'exec', ns.name, 'bridge', '-batch', '-'], { input: fdb });
    await must('ip', ['netns', 'exec', ns.name, 'ip', '-batch', '-'], { input: routes });
    const ms = performance.now() - t0;
    const count = (await ns.ip('route', 'show', 'dev', 'flannel.1')).trim().split('\n').length;
    if (count !== n) throw new Error(`reference programmed ${count} routes, expected ${n}`);
    return ms;
  } finally {
    await ns.destroy();
  }
}

/**
 * The agent as it ships: one bundle (plus the event monitor's entry beside it), not TypeScript
 * compiled on the fly by tsx, whose compiler would dominate the RSS.
 */
async function bundleAgent(): Promise<{ dir: string; main: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mna-ovb-bundle-'));
  await build({
    entryPoints: { main: join(REPO_ROOT, 'src/main.ts'), 'monitor-child': join(REPO_ROOT, 'src/netlink/monitor-child.ts') },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'error',
  });
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  return { dir, main: join(dir, 'main.mjs') };
}

async function rssOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? NaN) / 1024;
}

async function childrenRss(pid: number | undefined): Promise<number> {
  const children = (await run('pgrep', ['-P', String(pid)])).stdout.trim().split('\n').filter(Boolean).map(Number);
  let total = 0;
  for (const c of children) total += await rssOf(c);
  return total;
}

/** RSS of the real agent with N static peers: bundled (as shipped) or from source via tsx. */
async function agentRss(n: number, bundled: boolean, enabled = true): Promise<{ agentMb: number; monitorMb: number }> {
  const ns = await createNetns('ovb');
  await underlay(ns);
  const peers = Array.from({ length: n }, (_, i) => {
    const p = peer(i + 1);
    return { subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC };
  });
  const port = testPort();
  const dir = await mkdtemp(join(tmpdir(), 'mna-ovb-agent-'));
  const config = {
    stateDir: join(dir, 'state'),
    istio: { clusterEnv: '', sidecarEnv: '' },
    status: { listen: `127.0.0.1:${port}` },
    identity: { enabled: false },
    log: { level: 'warn' },
    overlay: { enabled, network: '10.0.0.0/8', subnet: '10.255.255.0/24', underlay: { interface: 'eth0' }, peers },
  };
  await writeFile(join(dir, 'config.yaml'), stringify(config));
  const bundle = bundled ? await bundleAgent() : undefined;
  const argv = bundle === undefined ? cliArgv('run', '--config', join(dir, 'config.yaml')) : [process.execPath, '--max-semi-space-size=4', bundle.main, 'run', '--config', join(dir, 'config.yaml')];
  const proc = ns.spawn(argv[0] ?? '', argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const probe = `fetch('http://127.0.0.1:${port}/readyz').then(r=>process.exit(r.status===200?0:1)).catch(()=>process.exit(1))`;
    await waitFor('agent ready', async () => proc.exitCode === null && (await ns.run(process.execPath, ['-e', probe])).code === 0, 120_000, 200);
    return { agentMb: await rssOf(proc.pid), monitorMb: await childrenRss(proc.pid) };
  } finally {
    await ns.destroy();
    await rm(dir, { recursive: true, force: true });
    if (bundle !== undefined) await rm(bundle.dir, { recursive: true, force: true });
  }
}


export async function main(args: string[]): Promise<void> {
  const n = Number(args[0] ?? '5000');
  const rounds = Number(args[1] ?? '3');
  console.log(`overlay benchmark: N = ${n} peers (${3 * n} kernel objects), ${rounds} interleaved rounds, medians`);
  // Interleaved rounds: a shared, busy host slows both ways alike.
  const batches: number[] = [];
  const workers: WorkerResult[] = [];
  for (let r = 0; r < rounds; r++) {
    batches.push(await viaBatch(n));
    workers.push(await viaAgentPath(n));
  }
  const batchMs = median(batches);
  const pick = (f: (x: WorkerResult) => number): number => median(workers.map(f));
  const w: WorkerResult = {
    ...(workers[0] as WorkerResult),
    programMs: pick((x) => x.programMs),
    resyncMedianMs: pick((x) => x.resyncMedianMs),
    resyncMaxMs: Math.max(...workers.map((x) => x.resyncMaxMs)),
    resyncWrites: workers.reduce((a, x) => a + x.resyncWrites, 0),
    changeMedianMs: pick((x) => x.changeMedianMs),
    changeP95Ms: pick((x) => x.changeP95Ms),
    startMs: pick((x) => x.startMs),
    programmed: Math.min(...workers.map((x) => x.programmed)),
  };
  for (const x of workers) if (x.errors.length > 0) console.log('worker errors:', x.errors.slice(0, 3));
  console.log(`  rounds: batch ${batches.map((x) => x.toFixed(0)).join('/')} ms, agent ${workers.map((x) => x.programMs.toFixed(0)).join('/')} ms`);
  const rss = await agentRss(n, true);
  const rssConfigOnly = await agentRss(n, true, false);
  const rssEmpty = await agentRss(0, true);
  const rssTsx = await agentRss(n, false);
  const fmt = (x: number): string => x.toFixed(1);
  const rows: [string, string, string][] = [
    ['program from scratch (agent, netlink)', `${fmt(w.programMs)} ms, ${w.programWrites} writes, ${w.programmed}/${n} programmed`, ''],
    ['program from scratch (ip -batch + bridge -batch)', `${fmt(batchMs)} ms`, ''],
    ['ratio agent / batch (medians)', (w.programMs / batchMs).toFixed(2), '≤ 1.5'],
    ['ratio agent / batch (best of each; least disturbed)', (Math.min(...workers.map((x) => x.programMs)) / Math.min(...batches)).toFixed(2), '≤ 1.5'],
    ['no-change resync (median of 7; max)', `${fmt(w.resyncMedianMs)} ms; ${fmt(w.resyncMaxMs)} ms`, '≤ 150 ms'],
    ['writes during the no-change resyncs', String(w.resyncWrites), '0'],
    ['single peer change → kernel (median; p95 of 30)', `${fmt(w.changeMedianMs)} ms; ${fmt(w.changeP95Ms)} ms`, '≤ 10 ms'],
    ['agent RSS with N peers, bundled (+ event monitor)', `${fmt(rss.agentMb)} MB (+ ${fmt(rss.monitorMb)} MB)`, '≤ 120 MB'],
    ['  same N peers in the YAML, overlay disabled', `${fmt(rssConfigOnly.agentMb)} MB`, ''],
    ['  no peers, overlay enabled', `${fmt(rssEmpty.agentMb)} MB (+ ${fmt(rssEmpty.monitorMb)} MB)`, ''],
    ['agent RSS with N peers, from source via tsx', `${fmt(rssTsx.agentMb)} MB (+ ${fmt(rssTsx.monitorMb)} MB)`, ''],
    ['controller start incl. device + monitor (worker)', `${fmt(w.startMs)} ms`, ''],
  ];
  for (const [what, value, target] of rows) console.log(`${what.padEnd(52)} ${value.padEnd(48)} ${target}`);
}
