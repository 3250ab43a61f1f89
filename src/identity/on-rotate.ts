/**
 * Runs identity.onRotate after an install (e.g. to signal the proxy): bounded time, result logged,
 * never fatal. The command is the operator's, not the agent's: it runs outside the agent's capture
 * bypass group (agent-group.ts), so its traffic is captured like any root process's.
 */
import { spawn } from 'node:child_process';
import { userCommandArgv } from '../agent/agent-group.js';

export interface HookResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

export function runOnRotate(command: string, env: Record<string, string>, timeoutMs = 30_000): Promise<HookResult> {
  return new Promise((resolve, reject) => {
    const [file = '/bin/sh', ...args] = userCommandArgv(command);
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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
