/**
 * A real Prometheus server (Debian's package, /usr/bin/prometheus) inside a test's network
 * namespace, scraping a target on that namespace's loopback every second, and a way to run a
 * batch of instant queries against it from inside the namespace (one process for the batch).
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { waitFor } from './exec.js';
import type { Netns } from './netns.js';

export const PROMETHEUS = '/usr/bin/prometheus';

export interface QueryResult {
  query: string;
  status: string;
  error?: string;
  /** Series in the result (a vector's length, or 1 for a scalar). */
  series: number;
}

export interface PrometheusServer {
  url: string;
  /** Instant queries, evaluated now; one result per query, in order. */
  query(queries: readonly string[]): Promise<QueryResult[]>;
  logs(): string;
  stop(): Promise<void>;
}

export function prometheusInstalled(): boolean {
  return existsSync(PROMETHEUS);
}

export async function startPrometheus(ns: Netns, target: string, port: number): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mna-prom-'));
  const config = join(dir, 'prometheus.yml');
  await writeFile(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: mesh-node-agent\n    static_configs:\n      - targets: ['${target}']\n`);
  const url = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = ns.spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (c: Buffer) => (output = `${output}${c.toString()}`.slice(-8000)));
  proc.stderr?.on('data', (c: Buffer) => (output = `${output}${c.toString()}`.slice(-8000)));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const query = async (queries: readonly string[]): Promise<QueryResult[]> => {
    // One node process in the namespace runs the batch (Prometheus listens on its loopback).
    const script = `const [url, qs] = JSON.parse(process.argv[1]); const out = [];
for (const q of qs) {
  const r = await fetch(url + '/api/v1/query?query=' + encodeURIComponent(q)).then((x) => x.json()).catch((e) => ({ status: 'fetch-error', error: String(e) }));
  const result = r.data && r.data.result;
  out.push({ query: q, status: r.status, error: r.error, series: Array.isArray(result) ? result.length : result === undefined ? 0 : 1 });
}
process.stdout.write(JSON.stringify(out));`;
    const r = await ns.run(process.execPath, ['--input-type=module', '-e', script, JSON.stringify([url, queries])]);
    if (r.code !== 0) throw new Error(`Prometheus queries failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as QueryResult[];
  };
  try {
    await waitFor(
      'Prometheus scraping its target',
      async () => {
        if (proc.exitCode !== null) throw new Error(`prometheus exited ${proc.exitCode}: ${output}`);
        const [up] = await query(['up == 1']).catch(() => [undefined]);
        return up !== undefined && up.status === 'success' && up.series === 1;
      },
      60_000,
      500,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, query, logs: () => output, stop };
}
