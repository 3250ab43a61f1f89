/**
 * The owners whose traffic bypasses capture. capture.proxyUser → uid/gid: a number is used as is
 * (gid = uid, as Istio defaults PROXY_GID to PROXY_UID); a name is looked up in /etc/passwd, and
 * its gid is the group of the same name in /etc/group, else the user's primary group. Root (uid or
 * gid 0) is refused. capture.agentGroup → the gid the agent holds (agent/agent-group.ts).
 */
import { readFile } from 'node:fs/promises';
import { GROUP_FILE, lookupGroupId, processHasGroup } from '../agent/agent-group.js';
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
  const owner = /^\d+$/.test(trimmed) ? { uid: Number(trimmed), gid: Number(trimmed) } : lookupName(trimmed, passwd, group);
  // The proxy's uid and gid bypass capture: root's would let every root process through.
  if (owner.uid === 0 || owner.gid === 0) {
    throw new AgentError(ErrorCode.ConfigInvalid, `capture.proxyUser: "${trimmed}" is uid ${owner.uid}, gid ${owner.gid}; root never bypasses capture: run the proxy under its own user (istio-proxy)`);
  }
  return owner;
}

function lookupName(trimmed: string, passwd: string, group: string): ProxyOwner {
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

/** capture.agentGroup's gid, which this process must hold (it joins at start), or an error saying what to do. */
export async function lookupAgentGid(name: string, groupFile = GROUP_FILE): Promise<number> {
  const gid = await lookupGroupId(name, groupFile);
  if (gid === undefined) {
    throw new AgentError(ErrorCode.ConfigInvalid, `capture.agentGroup: group "${name}" is not in ${groupFile}; create it (addgroup --system ${name}; the package does) or name an existing group or gid, then restart the agent`);
  }
  if (!processHasGroup(gid)) {
    throw new AgentError(ErrorCode.ControllerFailed, `capture.agentGroup "${name}" (gid ${gid}): the agent is not in this group (it joins at start, as root), so its own CA, etcd and DNS traffic would be captured; restart the agent`);
  }
  return gid;
}
