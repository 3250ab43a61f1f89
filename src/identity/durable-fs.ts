/** Small durable-write primitives: fsync a file or directory, write-then-rename, random temp names. */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface Owner {
  uid: number;
  gid: number;
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

/** Creates `path` (which must not exist), writes, chowns, fsyncs and closes it. */
export async function writeNewFile(path: string, data: string, mode: number, owner: Owner | undefined): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'wx', mode);
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or widened nothing, but be explicit
    if (owner !== undefined) await handle.chown(owner.uid, owner.gid);
    await handle.sync();
  } finally {
    await handle?.close();
  }
}

/** Atomically replaces `path`: temp file in the same directory, fsync, rename, fsync the directory. */
export async function atomicWriteFile(path: string, data: string, mode: number, owner: Owner | undefined): Promise<void> {
  const temp = tempName(path);
  try {
    await writeNewFile(temp, data, mode, owner);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}
