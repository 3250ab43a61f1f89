/**
 * Process start → N static peers programmed in the kernel: the agent as shipped (scripts/build.mjs
 * output, the launcher's flags) with N peers in its config.yaml, timed from spawning it to the
 * kernel holding every peer's route, neighbour and FDB entry (seen by `ip monitor` and `bridge
 * monitor` in its namespace, so nothing polls the agent). The reference, in the same run: the same
 * objects written by `ip -batch` + `bridge -batch` run as processes (as bench/overlay.ts does), timed
 * to the same monitors seeing its last entry: the kernel's notifications to the listeners and the
 * monitors' own CPU weigh on both sides alike.
 * Both also report CPU time (agent and its monitor child; the batch processes), which a busy
 * machine disturbs less than wall time.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../test/helpers/agent-process.js';
import { must, waitFor } from '../test/helpers/exec.js';
import { createNetns, type Netns } from '../test/helpers/netns.js';
import { testPort } from '../test/helpers/ports.js';
import type { ShippedBuild } from './_shipped.js';
import { peer, underlay } from './overlay.js';

/** What the kernel reports added on flannel.1, and when the last of N peers' entries arrived. */
class KernelWatch {
  private readonly routes = new Set<string>();
  private readonly neighbours = new Set<string>();
  private readonly fdb = new Set<string>();
  /** A first line from each monitor: it is listening. */
  readonly heard = { ip: false, bridge: false };
  doneAt: number | undefined;

  constructor(
    ns: Netns,
    private readonly n: number,
    /** Called as the last entry is seen, before anything else runs (a CPU reading then is exact). */
    private readonly onDone: () => void,
  ) {
    const follow = (cmd: string, args: string[], onLine: (line: string) => void): void => {
      const child = ns.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let rest = '';
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        const at = performance.now();
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) onLine(line);
        if (this.doneAt === undefined && this.complete()) {
          this.doneAt = at;
          this.onDone();
        }
      });
    };
    follow('ip', ['monitor', 'route', 'neigh'], (line) => {
      this.heard.ip = true;
      if (line.startsWith('Deleted') || !line.includes('dev flannel.1')) return;
      const first = line.split(' ')[0] ?? '';
      if (first.includes('/')) this.routes.add(first);
      else if (line.includes('lladdr')) this.neighbours.add(first);
    });
    follow('bridge', ['monitor', 'fdb'], (line) => {
      this.heard.bridge = true;
      if (!line.startsWith('Deleted') && line.includes('dev flannel.1')) this.fdb.add(line.split(' ')[0] ?? '');
    });
  }

  complete(): boolean {
    return this.routes.size >= this.n && this.neighbours.size >= this.n && this.fdb.size >= this.n;
  }
}

/** Wall time of one command in the namespace, from spawn to exit. */
async function timed(ns: Netns, argv: string[]): Promise<number> {
  const t0 = performance.now();
  await ns.must(process.execPath, argv);
  return performance.now() - t0;
}

/** CPU seconds (user + system) of a process so far, and of its reaped children. */
async function cpuOf(pid: number | string): Promise<{ own: number; children: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return cpuFields(stat);
}

/** utime + stime, cutime + cstime of a /proc/PID/stat line, in seconds (100 ticks a second). */
function cpuFields(stat: string): { own: number; children: number } {
  // Fields 14-17 of proc(5), counted from after the command name (which may hold spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  const tick = (i: number): number => (fields[i - 3] ?? NaN) / 100;
  return { own: tick(14) + tick(15), children: tick(16) + tick(17) };
}

/** CPU seconds of a process and its live children now, read synchronously. */
function cpuNowSync(pid: number): number {
  const own = (p: number | string): number => cpuFields(readFileSync(`/proc/${p}/stat`, 'utf8')).own;
  let total = own(pid);
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean)) total += own(child);
  }
  return total;
}

export interface BatchSample {
  ms: number;
  cpuMs: number;
}

/**
 * The reference: the objects through three batch processes, from the first spawn to the monitors
 * seeing the last entry (the same end as the agent's run, under the same listeners).
 */
export async function batchReference(n: number): Promise<BatchSample> {
  const ns = await createNetns('supb');
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
    const watch = await listeningWatch(ns, n, () => undefined);
    const cpu0 = (await cpuOf('self')).children;
    const t0 = performance.now();
    await must('ip', ['netns', 'exec', ns.name, 'ip', '-batch', '-'], { input: neigh });
    await must('ip', ['netns', 'exec', ns.name, 'bridge', '-batch', '-'], { input: fdb });
    await must('ip', ['netns', 'exec', ns.name, 'ip', '-batch', '-'], { input: routes });
    const cpuMs = ((await cpuOf('self')).children - cpu0) * 1000;
    const doneAt = await waitFor(`${n} reference peers seen by the monitors`, () => watch.doneAt, 30_000, 5);
    const count = (await ns.ip('route', 'show', 'dev', 'flannel.1')).trim().split('\n').length;
    if (count !== n) throw new Error(`reference programmed ${count} routes, expected ${n}`);
    return { ms: doneAt - t0, cpuMs };
  } finally {
    await ns.destroy();
  }
}

/** A KernelWatch on `ns` that has heard a probe change: it sees everything written from now on. */
async function listeningWatch(ns: Netns, n: number, onDone: () => void): Promise<KernelWatch> {
  const watch = new KernelWatch(ns, n, onDone);
  // The monitors listen once they report a change made after they started.
  await waitFor(
    'kernel monitors',
    async () => {
      await ns.sh(
        [
          'ip link del vxprobe 2>/dev/null || true',
          'ip link add vxprobe type vxlan id 99 dstport 4789 local 192.168.0.81 dev eth0 nolearning',
          'ip link set vxprobe up',
          'bridge fdb add 02:00:00:00:00:99 dev vxprobe dst 192.168.0.99',
          'ip route replace 198.51.100.0/24 dev vxprobe',
          'ip link del vxprobe',
        ].join('\n'),
      );
      return watch.heard.ip && watch.heard.bridge;
    },
    10_000,
    100,
  );
  return watch;
}

export interface StartupSample {
  /** Spawn → every peer's route, neighbour and FDB entry in the kernel. */
  ms: number;
  /** CPU of the agent and its event-monitor child by then. */
  cpuMs: number;
  /** `check-config` of the same file, and `version`: node start and the config's share of it. */
  checkConfigMs: number;
  versionMs: number;
}

export async function agentToKernel(build: ShippedBuild, n: number): Promise<StartupSample> {
  const ns = await createNetns('sup');
  const dir = await mkdtemp(join(tmpdir(), 'mna-sup-'));
  try {
    await underlay(ns);
    const peers = Array.from({ length: n }, (_, i) => {
      const p = peer(i + 1);
      return { subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC };
    });
    const config = {
      stateDir: join(dir, 'state'),
      istio: { clusterEnv: '', sidecarEnv: '' },
      status: { listen: `127.0.0.1:${testPort()}` },
      log: { level: 'warn' },
      identity: { enabled: false },
      overlay: { enabled: true, network: '10.0.0.0/8', subnet: '10.255.255.0/24', underlay: { interface: 'eth0' }, peers },
    };
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, stringify(config));

    const checkConfigMs = await timed(ns, build.argv(['check-config', '--config', configPath, '--json']));
    const versionMs = await timed(ns, build.argv(['version']));

    const spawned: { pid?: number } = {};
    let cpuAtDone = NaN;
    const watch = await listeningWatch(ns, n, () => {
      // The agent's own pass after its monitor starts listening is not part of the start.
      if (spawned.pid !== undefined) cpuAtDone = cpuNowSync(spawned.pid);
    });
    const t0 = performance.now();
    const agent = ns.spawn(process.execPath, build.argv(['run', '--config', configPath]), { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    spawned.pid = agent.pid;
    const doneAt = await waitFor(
      `${n} peers in the kernel`,
      () => {
        if (agent.exitCode !== null) throw new Error(`agent exited ${agent.exitCode}`);
        return watch.doneAt;
      },
      120_000,
      5,
    );
    return { ms: doneAt - t0, cpuMs: cpuAtDone * 1000, checkConfigMs, versionMs };
  } finally {
    await ns.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
