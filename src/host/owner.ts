/**
 * The one owner lookup: a user name or number (identity.owner, capture.proxyUser) to uid/gid. A
 * number is the uid and, as Istio defaults PROXY_GID to PROXY_UID, the gid. A name is looked up in
 * /etc/passwd; its gid is the group of the same name in /etc/group, else the user's primary group.
 * Unknown (or unset) is `undefined`: what that means is the caller's (identity keeps the agent's
 * ownership and warns, capture refuses to start). Unreadable files read as empty.
 */
import { readFile } from 'node:fs/promises';
import { isAccountId } from './account-id.js';

export interface Owner {
  uid: number;
  gid: number;
}

export interface AccountFiles {
  passwd: string;
  group: string;
}

export const ACCOUNT_FILES: AccountFiles = { passwd: '/etc/passwd', group: '/etc/group' };

/** The numeric field `index` of the first `name:` line (comments skipped), if it is a valid id. */
function idField(text: string, name: string, index: number): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields[0] !== name) continue;
    const value = fields[index];
    return value !== undefined && /^\d{1,10}$/.test(value) && isAccountId(Number(value)) ? Number(value) : undefined;
  }
  return undefined;
}

/** Pure: resolves against the given passwd and group file contents. */
export function resolveOwner(name: string, passwd: string, group: string): Owner | undefined {
  const trimmed = name.trim();
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) {
    const id = Number(trimmed);
    return isAccountId(id) ? { uid: id, gid: id } : undefined;
  }
  const uid = idField(passwd, trimmed, 2);
  if (uid === undefined) return undefined;
  return { uid, gid: idField(group, trimmed, 2) ?? idField(passwd, trimmed, 3) ?? uid };
}

export async function lookupOwner(name: string, files: AccountFiles = ACCOUNT_FILES): Promise<Owner | undefined> {
  const read = (path: string): Promise<string> => readFile(path, 'utf8').catch(() => '');
  return resolveOwner(name, await read(files.passwd), await read(files.group));
}
