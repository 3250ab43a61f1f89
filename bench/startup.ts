/**
 * `npm run bench -- startup`: the agent's start-to-ready time and idle RSS, against a reference
 * measured in the same run: a bare Node process that imports fastify and answers on loopback.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, REPO_ROOT } from '../test/helpers/agent-process.js';
import { testPort } from '../test/helpers/ports.js';
import { sleep } from '../test/helpers/exec.js';
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
}
