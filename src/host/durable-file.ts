/**
 * The one way the agent writes a file (certificates, state in stateDir, the saved resolv.conf):
 * a temp file in the same directory (created exclusively, so nothing planted there is followed),
 * its mode and owner set explicitly (the unit's UMask=0077 must not decide who can read it), fsync,
 * rename over the old file, fsync the directory. A crash leaves the old file or the new one, never
 * a torn one; the temp file is removed when a step fails. The primitives are exported for the
 * certificate store, which commits a whole directory with one rename.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Owner } from './owner.js';

export interface FileSpec {
  /** Permission bits, applied with chmod after creation (whatever the umask). */
  mode: number;
  /** The file's uid/gid, or 'agent': the agent's own (root under systemd), no chown. */
  owner: Owner | 'agent';
}

export function tempName(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.tmp-${randomBytes(4).toString('hex')}`);
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `path` (which must not exist), writes, chmods, chowns, fsyncs and closes it. */
export async function writeNewFile(path: string, data: string, spec: FileSpec): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'wx', spec.mode);
    await handle.writeFile(data);
    await handle.chmod(spec.mode);
    if (spec.owner !== 'agent') await handle.chown(spec.owner.uid, spec.owner.gid);
    await handle.sync();
  } finally {
    await handle?.close();
  }
}

/** Atomically and durably replaces (or creates) `path` with `data`. */
export async function writeFileDurably(path: string, data: string, spec: FileSpec): Promise<void> {
  const temp = tempName(path);
  try {
    await writeNewFile(temp, data, spec);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}
