/** A throwaway etcd (Debian etcd-server) on a given address, optionally inside a namespace. */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './exec.js';
import type { Netns } from './netns.js';

export interface EtcdServer {
  endpoint: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startEtcd(options: { host: string; clientPort: number; peerPort: number; ns?: Netns }): Promise<EtcdServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mna-etcd-'));
  const endpoint = `http://${options.host}:${options.clientPort}`;
  const args = [
    '--name', 'mna', '--data-dir', dir,
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', `http://${options.host}:${options.peerPort}`,
    '--initial-advertise-peer-urls', `http://${options.host}:${options.peerPort}`,
    '--initial-cluster', `mna=http://${options.host}:${options.peerPort}`,
    '--log-level', 'error',
  ];
  const proc = options.ns === undefined ? spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] }) : options.ns.spawn('etcd', args);
  let output = '';
  proc.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = once(proc, 'exit');
      proc.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const health = async (): Promise<boolean> => {
      if (proc.exitCode !== null) throw new Error(`etcd exited: ${output}`);
      const script = `fetch(${JSON.stringify(`${endpoint}/health`)}).then(r=>r.text()).then(t=>process.stdout.write(t),()=>process.exit(1))`;
      if (options.ns === undefined) return (await fetch(`${endpoint}/health`).then((r) => r.text(), () => '')).includes('true');
      return (await options.ns.run(process.execPath, ['-e', script])).stdout.includes('true');
    };
    await waitFor('etcd healthy', health, 20_000, 100);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, proc, stop };
}
