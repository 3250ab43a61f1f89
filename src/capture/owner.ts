/**
 * Resolves capture.proxyUser to the uid/gid whose traffic bypasses capture. A number is used as
 * is (gid = uid, as Istio defaults PROXY_GID to PROXY_UID); a name is looked up in /etc/passwd,
 * and its gid is the group of the same name in /etc/group, else the user's primary group.
 */
import { readFile } from 'node:fs/promises';
import { AgentError, ErrorCode } from '../errors.js';

export interface ProxyOwner {
  uid: number;
  gid: number;
}

function field(text: string, name: string, index: number): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const parts = line.split(':');
    if (parts[0] === name) return parts[index];
  }
  return undefined;
}

/** Pure: resolves against the given passwd and group file contents. */
export function resolveOwner(user: string, passwd: string, group: string): ProxyOwner {
  const trimmed = user.trim();
  if (/^\d+$/.test(trimmed)) return { uid: Number(trimmed), gid: Number(trimmed) };
  const uidText = field(passwd, trimmed, 2);
  if (uidText === undefined || !/^\d+$/.test(uidText)) {
    throw new AgentError(ErrorCode.ConfigInvalid, `capture.proxyUser: user "${trimmed}" is not in /etc/passwd; create it (the istio-sidecar package creates istio-proxy) or give a numeric uid`);
  }
  const groupGid = field(group, trimmed, 2);
  const primary = field(passwd, trimmed, 3);
  const gidText = groupGid !== undefined && /^\d+$/.test(groupGid) ? groupGid : primary;
  return { uid: Number(uidText), gid: Number(gidText ?? uidText) };
}

export async function lookupOwner(user: string, files = { passwd: '/etc/passwd', group: '/etc/group' }): Promise<ProxyOwner> {
  const read = (path: string): Promise<string> => readFile(path, 'utf8').catch(() => '');
  return resolveOwner(user, await read(files.passwd), await read(files.group));
}
