/** Promise wrappers around child processes with bounded time and readable failures. */
import { execFile, type ExecFileOptions } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command; resolves with its exit code instead of rejecting (tests assert on it). */
export function run(cmd: string, args: readonly string[], options: ExecFileOptions & { input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', ...options }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${String(stderr)}`));
        return;
      }
      resolve({ stdout: String(stdout), stderr: String(stderr), code: err === null ? 0 : Number(err.code) });
    });
    if (options.input !== undefined) {
      // A child that exits before reading its input (a refused redirect) breaks the pipe: its exit
      // code and stderr say what happened, so EPIPE on stdin is not an error of its own.
      child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') reject(err);
      });
      child.stdin?.end(options.input);
    }
  });
}

/** Runs a command and rejects on a non-zero exit, with its stderr in the message. */
export async function must(cmd: string, args: readonly string[], options: ExecFileOptions & { input?: string } = {}): Promise<string> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined/false, within `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
}
