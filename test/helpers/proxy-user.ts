/**
 * Acting as the proxy user in tests: a real unprivileged uid (65534, nobody) through setpriv, with
 * no supplementary groups and no capabilities, as a compromised istio-proxy would be.
 */
import { utimes, stat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type ExecResult } from './exec.js';

export const PROXY_UID = 65534;

export function asProxy(cmd: string, args: readonly string[], input?: string): Promise<ExecResult> {
  const argv = [`--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', '--inh-caps=-all', '--', cmd, ...args];
  return run('setpriv', argv, input === undefined ? {} : { input });
}

/** Runs as the proxy and fails the test when the command fails. */
export async function mustAsProxy(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const result = await asProxy(cmd, args, input);
  if (result.code !== 0) throw new Error(`as uid ${PROXY_UID}: ${cmd} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Whether reading a file shows in its atime here (relatime updates it when atime <= mtime). When
 * it does, a file whose atime was set back and is unchanged later was never read.
 */
export async function atimeRevealsReads(dir: string): Promise<boolean> {
  const probe = join(dir, 'atime-probe');
  await writeFile(probe, 'x');
  await markUnread(probe);
  const before = (await stat(probe)).atimeMs;
  await readFile(probe);
  return (await stat(probe)).atimeMs !== before;
}

/** Sets atime an hour before mtime, so the next read moves it. */
export async function markUnread(path: string): Promise<number> {
  const now = Date.now() / 1000;
  await utimes(path, now - 3600, now);
  return (await stat(path)).atimeMs;
}
