/**
 * The agent's capture-bypass group (capture.agentGroup, default mesh-node-agent). Capture exempts
 * sockets whose creator had this group among its groups (xt_owner `--gid-owner G --suppl-groups`
 * reads the credentials a socket was created with), so the agent joins it as a supplementary
 * group at start, before it opens any socket. Its primary gid stays what it was: files it creates,
 * and files it reads through group root (key.pem is owner:root 0640), are unaffected. Commands it
 * runs for the operator (identity.onRotate) leave the group again: they are captured like any
 * other root process.
 */
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../errors.js';

export const GROUP_FILE = '/etc/group';

/** Pure: a group name (looked up in /etc/group's text) or a number, to a gid; undefined when unknown. */
export function parseGroupId(name: string, groupText: string): number | undefined {
  const trimmed = name.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  for (const line of groupText.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === trimmed && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

export async function lookupGroupId(name: string, groupFile = GROUP_FILE): Promise<number | undefined> {
  return parseGroupId(name, await readFile(groupFile, 'utf8').catch(() => ''));
}

/** Whether sockets this process creates now carry `gid` (as primary or supplementary group). */
export function processHasGroup(gid: number): boolean {
  return process.getegid?.() === gid || (process.getgroups?.() ?? []).includes(gid);
}

export type JoinResult =
  | { state: 'member' | 'joined'; gid: number }
  | { state: 'unknown' }
  | { state: 'failed'; gid: number; error: string };

/** The bypass gid this process holds, once joinAgentGroup found or made it so. */
let bypassGid: number | undefined;

/** At start, before any socket exists: join the group when it exists and this process may (root). */
export async function joinAgentGroup(name: string, groupFile = GROUP_FILE): Promise<JoinResult> {
  const gid = await lookupGroupId(name, groupFile);
  if (gid === undefined) return { state: 'unknown' };
  if (gid === 0) return { state: 'failed', gid, error: 'gid 0 is root; root never bypasses capture' };
  if (processHasGroup(gid)) {
    bypassGid = gid;
    return { state: 'member', gid };
  }
  try {
    process.setgroups?.([...(process.getgroups?.() ?? []), gid]);
  } catch (err) {
    return { state: 'failed', gid, error: errorMessage(err) };
  }
  if (!processHasGroup(gid)) return { state: 'failed', gid, error: 'setgroups had no effect' };
  bypassGid = gid;
  return { state: 'joined', gid };
}

/**
 * argv for a shell command run on the operator's behalf. While the agent holds the bypass group,
 * the command goes through `setpriv --clear-groups` (and back to gid 0 if the bypass group is the
 * primary one): setpriv fails rather than run the command with the bypass still in place.
 */
export function userCommandArgv(command: string): string[] {
  const shell = ['/bin/sh', '-c', command];
  if (bypassGid === undefined || !processHasGroup(bypassGid)) return shell;
  const primary = process.getegid?.() === bypassGid ? ['--regid=0'] : [];
  return ['setpriv', ...primary, '--clear-groups', '--', ...shell];
}
