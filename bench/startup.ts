/**
 * `npm run bench -- startup [rounds] [N]`: (1) the agent's start-to-ready time and idle RSS against
 * a bare Node process that imports fastify and answers on loopback; (2) process start → N static
 * peers (default 5000) programmed in the kernel, the agent as shipped, against `ip -batch` +
 * `bridge -batch` run as processes, both timed to the same kernel monitors (target ≤ 2×). Each
 * reference is measured in the same run.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, REPO_ROOT } from '../test/helpers/agent-process.js';
import { testPort } from '../test/helpers/ports.js';
import { sleep } from '../test/helpers/exec.js';
import { shippedBuild } from './_shipped.js';
import { agentToKernel, batchReference, type BatchSample, type StartupSample } from './_startup-peers.js';
import { median } from './_stats.js';

interface Sample {
  readyMs: number;
  rssMb: number;
}

async function measure(argv: string[], url: string): Promise<Sample> {
  const started = performance.now();
  const [cmd, ...args] = argv;
  const child = spawn(cmd ?? '', args, { cwd: REPO_ROOT, stdio: 'ignore' });
  try {
    let readyMs = Number.NaN;
    for (let i = 0; i < 400; i += 1) {
      const ok = await fetch(url, { signal: AbortSignal.timeout(500) }).then((r) => r.status === 200, () => false);
      if (ok) {
        readyMs = performance.now() - started;
        break;
      }
      await sleep(10);
    }
    await sleep(2000); // idle: let start-up garbage be collected before reading RSS
    const statusText = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(statusText)?.[1] ?? Number.NaN);
    return { readyMs, rssMb: rssKb / 1024 };
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

export async function main(args: string[]): Promise<void> {
  const rounds = Number(args[0] ?? 5);
  const n = Number(args[1] ?? 5000);
  const dir = await mkdtemp(join(tmpdir(), 'mna-bench-'));
  try {
    const agent: Sample[] = [];
    const reference: Sample[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const port = testPort();
      const config = join(dir, 'config.yaml');
      await writeFile(config, `stateDir: ${dir}/state\nistio: { clusterEnv: "", sidecarEnv: "" }\nstatus: { listen: "127.0.0.1:${port}" }\nidentity: { enabled: false }\n`);
      agent.push(await measure(cliArgv('run', '--config', config), `http://127.0.0.1:${port}/readyz`));
      const refPort = testPort();
      const script = `const f=(await import('fastify')).default();f.get('/',async()=>'ok');await f.listen({host:'127.0.0.1',port:${refPort}});`;
      reference.push(await measure([process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], `http://127.0.0.1:${refPort}/`));
    }
    const a = { readyMs: median(agent.map((s) => s.readyMs)), rssMb: median(agent.map((s) => s.rssMb)) };
    const r = { readyMs: median(reference.map((s) => s.readyMs)), rssMb: median(reference.map((s) => s.rssMb)) };
    console.log(`startup benchmark (${rounds} rounds, medians; agent run from source through tsx, as is the reference)`);
    console.log(`  agent      start-to-ready ${a.readyMs.toFixed(0)} ms   idle RSS ${a.rssMb.toFixed(1)} MB`);
    console.log(`  reference  start-to-listen ${r.readyMs.toFixed(0)} ms   idle RSS ${r.rssMb.toFixed(1)} MB   (node + fastify hello)`);
    console.log(`  ratio      time ${(a.readyMs / r.readyMs).toFixed(2)}x   RSS ${(a.rssMb / r.rssMb).toFixed(2)}x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await peersToKernel(Math.min(rounds, 3), n);
}

/** Interleaved rounds: a shared, busy host slows both ways alike. */
async function peersToKernel(rounds: number, n: number): Promise<void> {
  const build = await shippedBuild();
  const agent: StartupSample[] = [];
  const batch: BatchSample[] = [];
  try {
    for (let i = 0; i < rounds; i += 1) {
      batch.push(await batchReference(n));
      agent.push(await agentToKernel(build, n));
    }
  } finally {
    await build.cleanup();
  }
  const ms = median(agent.map((s) => s.ms));
  const ref = median(batch.map((b) => b.ms));
  const cpu = median(agent.map((s) => s.cpuMs));
  const refCpu = median(batch.map((b) => b.cpuMs));
  const rounded = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join('/');
  console.log(`process start → ${n} static peers in the kernel (${3 * n} objects; ${rounds} interleaved rounds, medians; agent as shipped)`);
  console.log(`  agent      ${ms.toFixed(0)} ms, CPU ${cpu.toFixed(0)} ms   (rounds ${rounded(agent.map((s) => s.ms))} ms)`);
  console.log(`  reference  ${ref.toFixed(0)} ms, CPU ${refCpu.toFixed(0)} ms   ip -batch + bridge -batch as processes (rounds ${rounded(batch.map((b) => b.ms))} ms)`);
  console.log(`  ratio      ${(ms / ref).toFixed(2)}x   (best of each ${(Math.min(...agent.map((s) => s.ms)) / Math.min(...batch.map((b) => b.ms))).toFixed(2)}x; CPU ${(cpu / refCpu).toFixed(2)}x; target ≤ 2)`);
  console.log(`  check-config with ${n} peers ${median(agent.map((s) => s.checkConfigMs)).toFixed(0)} ms, version ${median(agent.map((s) => s.versionMs)).toFixed(0)} ms`);
}
