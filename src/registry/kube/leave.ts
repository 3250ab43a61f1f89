/**
 * `mesh-node-agent leave`: deletes this VM's Node, the only time the agent deletes one. Only a
 * Node whose owner annotation names this VM is deleted, with the uid and resourceVersion it was
 * read at as preconditions, so a Node re-created or taken meanwhile is never removed.
 */
import { AgentError, ErrorCode } from '../../errors.js';
import { isStatus } from '../../kube/api-error.js';
import { resourcePath, type KubeClient } from '../../kube/client.js';
import { foreignReason, type ExistingNode } from './own-node.js';

export type LeaveOutcome = { kind: 'deleted'; podCIDR: string } | { kind: 'absent' };

export async function leaveNode(client: KubeClient, nodeName: string, owner: string): Promise<LeaveOutcome> {
  const path = resourcePath({ version: 'v1', resource: 'nodes', name: nodeName });
  let node: ExistingNode;
  try {
    node = (await client.get(path));
  } catch (err) {
    if (isStatus(err, 404)) return { kind: 'absent' };
    throw err;
  }
  const foreign = foreignReason(node, owner);
  if (foreign !== undefined) throw new AgentError(ErrorCode.ConfigInvalid, `not deleting: ${foreign}`);
  const spec = node.spec as { podCIDR?: unknown } | undefined;
  try {
    await client.delete(path, { ...(node.metadata.uid === undefined ? {} : { uid: node.metadata.uid }), resourceVersion: node.metadata.resourceVersion });
  } catch (err) {
    if (isStatus(err, 409)) throw new AgentError(ErrorCode.KubeApiFailed, `Node ${nodeName} changed while leaving; run mesh-node-agent leave again`, { cause: err });
    throw err;
  }
  return { kind: 'deleted', podCIDR: typeof spec?.podCIDR === 'string' ? spec.podCIDR : '' };
}
