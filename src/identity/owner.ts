/** Resolves identity.owner (a user name or numeric uid) to uid/gid from /etc/passwd. */
import { readFile } from 'node:fs/promises';
import type { Owner } from './durable-fs.js';

export function parsePasswd(text: string, name: string): Owner | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 4) continue;
    const [user, , uid, gid] = fields;
    if (user === name || (/^\d+$/.test(name) && uid === name)) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/** undefined when the owner is unset or unknown (the caller logs and skips chown). */
export async function lookupOwner(name: string, passwdPath = '/etc/passwd'): Promise<Owner | undefined> {
  if (name.trim() === '') return undefined;
  let text: string;
  try {
    text = await readFile(passwdPath, 'utf8');
  } catch {
    text = '';
  }
  const found = parsePasswd(text, name.trim());
  if (found === undefined && /^\d+$/.test(name.trim())) return { uid: Number(name.trim()), gid: Number(name.trim()) };
  return found;
}
