/** Starts the demo CA (demo-ca-server.ts) inside a namespace and waits until it serves. */
import { once } from 'node:events';
import { join } from 'node:path';
import { REPO_ROOT } from './agent-process.js';
import type { Netns } from './netns.js';

export interface DemoCa {
  rootCertPath: string;
  tokenPath: string;
  stop(): Promise<void>;
}

export interface DemoCaOptions {
  ns: Netns;
  host: string;
  port: number;
  /** Where root-cert.pem and istio-token are written (the VM's bootstrap material). */
  bootstrapDir: string;
  identity: string;
}

export async function startDemoCa(options: DemoCaOptions): Promise<DemoCa> {
  const rootCertPath = join(options.bootstrapDir, 'root-cert.pem');
  const tokenPath = join(options.bootstrapDir, 'istio-token');
  const child = options.ns.spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'test/helpers/demo-ca-server.ts'), options.host, String(options.port), rootCertPath, tokenPath, options.identity],
    { cwd: REPO_ROOT },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo CA did not start: ${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo CA exited ${code}: ${output}`));
    });
  });
  return {
    rootCertPath,
    tokenPath,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
