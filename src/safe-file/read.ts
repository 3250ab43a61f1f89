/**
 * Reads a file without following a symbolic link in its last component (O_NOFOLLOW), without
 * blocking on a FIFO, and only when it is a regular file of bounded size; the facts come from the
 * opened descriptor, so what is judged is what was read.
 */
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { FileFacts, FileKind } from './policy.js';

export type NoFollowRead =
  | { kind: 'ok'; text: string; facts: FileFacts }
  | { kind: 'absent' }
  | { kind: 'refused'; reason: string; facts?: FileFacts };

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

function kindOf(st: Stats): FileKind {
  if (st.isSymbolicLink()) return 'link';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  return 'other';
}

export function factsOf(st: Stats): FileFacts {
  return { kind: kindOf(st), uid: st.uid, gid: st.gid, mode: st.mode & 0o7777, nlink: st.nlink, size: st.size };
}

export function errnoOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export async function readNoFollow(path: string, maxBytes: number): Promise<NoFollowRead> {
  let handle: FileHandle;
  try {
    handle = await open(path, FLAGS);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    if (code === 'ELOOP') return { kind: 'refused', reason: 'is a symbolic link' };
    if (code === 'ENXIO') return { kind: 'refused', reason: 'is not a regular file' };
    throw err;
  }
  try {
    const facts = factsOf(await handle.stat());
    if (facts.kind !== 'file') return { kind: 'refused', reason: 'is not a regular file', facts };
    if (facts.size > maxBytes) return { kind: 'refused', reason: `is larger than ${maxBytes} bytes`, facts };
    // The file may grow after fstat: keep reading to EOF, but never past the bound.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(maxBytes + 1 - total, Math.max(facts.size - total, 0) + 4096));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) return { kind: 'refused', reason: `is larger than ${maxBytes} bytes`, facts };
    }
    return { kind: 'ok', text: Buffer.concat(chunks, total).toString('utf8'), facts };
  } finally {
    await handle.close();
  }
}
