/**
 * A real etcd (Debian etcd-server) for registry tests and the seed topology: loopback or a
 * namespace address, random ports, a temp data dir; stop()/start() keep the data so a test can
 * simulate an outage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, waitFor } from './exec.js';
import { testPort } from './ports.js';
import type { Netns } from './netns.js';

export interface EtcdServer {
  /** http://host:port */
  endpoint: string;
  host: string;
  clientPort: number;
  dataDir: string;
  start(): Promise<void>;
  /** SIGKILL (an outage), data kept. */
  stop(): Promise<void>;
  /** Stops etcd, wipes its data and starts a new, empty cluster on the same address. */
  reset(): Promise<void>;
  logs(): string;
  cleanup(): Promise<void>;
}

export interface EtcdOptions {
  /** Run inside this namespace, listening on `host`. */
  ns?: Netns;
  host?: string;
  /** A fixed client port (a topology whose configs name it); random otherwise. */
  clientPort?: number;
  /** Serve clients over TLS and require client certificates signed by `ca`. */
  tls?: { ca: string; cert: string; key: string; clientCert: string; clientKey: string };
}

export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdServer> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = await mkdtemp(join(tmpdir(), 'mna-etcd-'));
  const clientPort = options.clientPort ?? testPort();
  const peerPort = testPort();
  const endpoint = `${options.tls === undefined ? 'http' : 'https'}://${host}:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: ChildProcess | undefined;
  let output = '';
  const args = [
    '--name', 'mna', '--data-dir', dataDir,
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `mna=${peer}`, '--initial-cluster-state', 'new',
    '--log-level', 'warn', '--logger', 'zap',
  ];
  const ctlTls: string[] = [];
  if (options.tls !== undefined) {
    const t = options.tls;
    args.push('--cert-file', t.cert, '--key-file', t.key, '--trusted-ca-file', t.ca, '--client-cert-auth');
    ctlTls.push('--cacert', t.ca, '--cert', t.clientCert, '--key', t.clientKey);
  }
  const healthy = async (): Promise<boolean> => {
    if (options.tls !== undefined && options.ns === undefined) {
      return (await run('etcdctl', ['--endpoints', endpoint, ...ctlTls, '--command-timeout=1s', 'endpoint', 'health'])).code === 0;
    }
    if (options.ns === undefined) {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok;
    }
    const r = await options.ns.run('etcdctl', ['--endpoints', endpoint, ...ctlTls, '--command-timeout=1s', 'endpoint', 'health']);
    return r.code === 0;
  };
  const server: EtcdServer = {
    endpoint,
    host,
    clientPort,
    dataDir,
    async start() {
      const proc = options.ns === undefined ? spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] }) : options.ns.spawn('etcd', args);
      proc.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      proc.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      child = proc;
      await waitFor(`etcd on ${endpoint} (${output.slice(-500)})`, async () => {
        if (proc.exitCode !== null) throw new Error(`etcd exited ${proc.exitCode}: ${output.slice(-1000)}`);
        return healthy();
      }, 20_000, 100);
    },
    async stop() {
      const proc = child;
      child = undefined;
      if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGKILL');
      await exited;
    },
    async reset() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
      await server.start();
    },
    logs: () => output,
    async cleanup() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
