/** Runs identity.onRotate after an install (e.g. to signal the proxy): bounded time, result logged, never fatal. */
import { spawn } from 'node:child_process';

export interface HookResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

export function runOnRotate(command: string, env: Record<string, string>, timeoutMs = 30_000): Promise<HookResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-2000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output: output.trim() });
    });
  });
}
