/**
 * The istiod stand-in for the demo and the e2e scenario: the test CA (test-ca.ts) running inside
 * the load balancer's network namespace on host:port. It writes what istioctl gives a VM into
 * bootstrapDir: root-cert.pem (the mesh root) and istio-token (a token for the VM's identity).
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { REPO_ROOT } from './agent-process.js';
import { waitFor } from './exec.js';
import type { Netns } from './netns.js';

export interface DemoCaOptions {
  ns: Netns;
  host: string;
  port: number;
  dir: string;
  bootstrapDir: string;
  /** The identity the token stands for (the seed VM's service account by default). */
  identity?: string;
}

export interface DemoCa {
  address: string;
  rootCertPath: string;
  tokenPath: string;
  logs(): string;
  stop(): Promise<void>;
}

export async function startDemoCa(options: DemoCaOptions): Promise<DemoCa> {
  const args = {
    host: options.host,
    port: options.port,
    dir: options.dir,
    bootstrapDir: options.bootstrapDir,
    identity: options.identity ?? 'spiffe://cluster.local/ns/default/sa/deb-nginx01',
  };
  const child = options.ns.spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/helpers/demo-ca-main.ts'), JSON.stringify(args)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitFor(
      'the demo CA to listen',
      () => {
        if (child.exitCode !== null) throw new Error(`demo CA exited ${child.exitCode}: ${output}`);
        return output.includes('READY ');
      },
      30_000,
      50,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address: `${options.host}:${options.port}`,
    rootCertPath: join(options.bootstrapDir, 'root-cert.pem'),
    tokenPath: join(options.bootstrapDir, 'istio-token'),
    logs: () => output,
    stop,
  };
}
