/**
 * The owners whose traffic bypasses capture. capture.proxyUser → uid/gid through the agent's one
 * owner lookup (host/owner.ts); an unknown user and root (uid or gid 0) are refused.
 * capture.agentGroup → the gid the agent holds (agent/agent-group.ts).
 */
import { GROUP_FILE, lookupGroupId, processHasGroup } from '../agent/agent-group.js';
import { AgentError, ErrorCode } from '../errors.js';
import { ACCOUNT_FILES, lookupOwner, resolveOwner, type AccountFiles, type Owner } from '../host/owner.js';

/** Pure: the proxy's owner from passwd and group contents, or an error saying what to do. */
export function resolveProxyOwner(user: string, passwd: string, group: string): Owner {
  return checkProxyOwner(user, resolveOwner(user, passwd, group));
}

export async function lookupProxyOwner(user: string, files: AccountFiles = ACCOUNT_FILES): Promise<Owner> {
  return checkProxyOwner(user, await lookupOwner(user, files));
}

function checkProxyOwner(user: string, owner: Owner | undefined): Owner {
  const trimmed = user.trim();
  if (owner === undefined) {
    throw new AgentError(ErrorCode.ConfigInvalid, `capture.proxyUser: user "${trimmed}" is not in /etc/passwd; create it (the istio-sidecar package creates istio-proxy) or give a numeric uid`);
  }
  // The proxy's uid and gid bypass capture: root's would let every root process through.
  if (owner.uid === 0 || owner.gid === 0) {
    throw new AgentError(ErrorCode.ConfigInvalid, `capture.proxyUser: "${trimmed}" is uid ${owner.uid}, gid ${owner.gid}; root never bypasses capture: run the proxy under its own user (istio-proxy)`);
  }
  return owner;
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
