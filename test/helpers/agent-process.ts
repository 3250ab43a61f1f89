/**
 * Starts the real agent (`mesh-node-agent run`) as a child process, optionally inside a network
 * namespace, and exposes its status endpoint and logs to the test.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { waitFor } from './exec.js';
import { testPort } from './ports.js';
import type { Netns } from './netns.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const MAIN = join(REPO_ROOT, 'src/main.ts');

/** argv to run the CLI from source (tests never need a build). */
export function cliArgv(...args: string[]): string[] {
  return [process.execPath, '--import', 'tsx', MAIN, ...args];
}

export interface AgentHandle {
  proc: ChildProcess;
  dir: string;
  configPath: string;
  statusUrl: string;
  logs(): string;
  /** Rewrites the config file (no signal sent). */
  writeConfig(config: Record<string, unknown>): Promise<void>;
  get(path: string): Promise<{ status: number; body: string }>;
  waitReady(timeoutMs?: number): Promise<void>;
  /** Sends a signal and waits for exit; returns the exit code and how long it took. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  cleanup(): Promise<void>;
}

export interface StartOptions {
  config: Record<string, unknown>;
  ns?: Netns;
  /** Port for the status server; chosen at random on loopback when omitted. */
  statusPort?: number;
  env?: NodeJS.ProcessEnv;
  /** Directory to use (and keep); a fresh temp dir otherwise. */
  dir?: string;
  /** File-creation mask for the agent, e.g. '077' as the systemd unit sets (UMask=0077). */
  umask?: string;
  /** A command the agent runs under, e.g. setpriv with a smaller capability set. */
  wrap?: string[];
}

export async function startAgent(options: StartOptions): Promise<AgentHandle> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'mna-agent-')));
  const configPath = join(dir, 'config.yaml');
  const port = options.statusPort ?? testPort();
  const base = {
    stateDir: join(dir, 'state'),
    istio: { clusterEnv: join(dir, 'cluster.env'), sidecarEnv: join(dir, 'sidecar.env') },
    status: { listen: `127.0.0.1:${port}` },
    identity: { enabled: false },
  };
  const write = (config: Record<string, unknown>): Promise<void> => writeFile(configPath, stringify(deepMerge(base, config)));
  await write(options.config);
  const agentArgv = [...(options.wrap ?? []), ...cliArgv('run', '--config', configPath)];
  // sh sets the mask and execs the agent: same pid, so signals and exit codes are the agent's.
  const [cmd = '', ...args] = options.umask === undefined ? agentArgv : ['/bin/sh', '-c', `umask ${options.umask} && exec "$@"`, 'sh', ...agentArgv];
  const spawnOptions = { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] as StdioOptions, env: { ...process.env, ...options.env } };
  const proc = options.ns === undefined ? spawn(cmd, args, spawnOptions) : options.ns.spawn(cmd, args, spawnOptions);
  // Never outlive the test process, whatever way it ends.
  const killOnExit = (): void => void proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  proc.once('exit', () => process.removeListener('exit', killOnExit));
  let output = '';
  proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const statusUrl = `http://127.0.0.1:${port}`;
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const fetchIt = async (): Promise<{ status: number; body: string }> => {
      const res = await fetch(`${statusUrl}${path}`, { signal: AbortSignal.timeout(3000) });
      return { status: res.status, body: await res.text() };
    };
    if (options.ns === undefined) return fetchIt();
    // The status server is on the namespace's loopback: ask from inside with curl-less node.
    const script = `fetch(${JSON.stringify(`${statusUrl}${path}`)}).then(async r=>{process.stdout.write(JSON.stringify({status:r.status,body:await r.text()}))}).catch(e=>{console.error(String(e));process.exit(3)})`;
    const r = await options.ns.run(process.execPath, ['-e', script]);
    if (r.code !== 0) throw new Error(`status request failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as { status: number; body: string };
  };
  const handle: AgentHandle = {
    proc,
    dir,
    configPath,
    statusUrl,
    logs: () => output,
    writeConfig: write,
    get,
    // A deadline, not a wait: generous for loaded machines and the sanitized run (scripts/test-native-sanitized.sh).
    async waitReady(timeoutMs = 60_000) {
      try {
        await waitFor(
          'agent ready',
          async () => {
            if (proc.exitCode !== null) throw new Error(`agent exited ${proc.exitCode}`);
            return (await get('/readyz')).status === 200;
          },
          timeoutMs,
          100,
        );
      } catch (err) {
        // The logs as they are when waiting gave up, not when it began.
        throw new Error(`${(err as Error).message}\nagent logs:\n${output.slice(-3000)}`, { cause: err });
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      const started = Date.now();
      if (proc.exitCode !== null || proc.signalCode !== null) return { code: proc.exitCode, signal: proc.signalCode, ms: 0 };
      const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const [code, sig] = await exited;
      clearTimeout(timer);
      return { code, signal: sig, ms: Date.now() - started };
    },
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = once(proc, 'exit');
        proc.kill('SIGKILL');
        await exited;
      }
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}
