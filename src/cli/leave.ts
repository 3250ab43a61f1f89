/**
 * `leave`: this VM leaves the cluster's kube subnet manager by deleting its Node, which flanneld on
 * every node then withdraws. The agent must be stopped first (it would register the Node again),
 * and only the Node whose owner annotation names this VM is deleted.
 */
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/load.js';
import { formatHostPort, parseHostPort } from '../net/host-port.js';
import { parseCommandArgs } from './args.js';
import { LEAVE_HELP } from './help.js';

export async function leaveCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, 'leave');
  if (args.help === true) {
    process.stdout.write(LEAVE_HELP);
    return 0;
  }
  const { config } = await loadConfig({ path: args.config ?? DEFAULT_CONFIG_PATH, mustExist: args.config !== undefined });
  const status = parseHostPort(config.status.listen);
  if (status !== undefined && (await answers(`http://${formatHostPort(status)}/livez`))) {
    process.stderr.write(`mesh-node-agent leave: the agent is running (it answers on ${formatHostPort(status)}) and would register its Node again; stop it first: systemctl stop mesh-node-agent\n`);
    return 1;
  }
  // Loaded only here: a VM that never uses Kubernetes never loads the client.
  const [{ createKubeClient }, { resolveNodeName }, { leaveNode }, state] = await Promise.all([
    import('../kube/connect.js'),
    import('../registry/kube/registry.js'),
    import('../registry/kube/leave.js'),
    import('../registry/kube/state.js'),
  ]);
  const owner = await state.readOwner(config.stateDir);
  const name = resolveNodeName(config.overlay.kubernetes.nodeName);
  if (owner === undefined) {
    process.stdout.write(`this VM never registered a Node (no owner identity in ${config.stateDir}); nothing to delete\n`);
    return 0;
  }
  const client = await createKubeClient(config.kubernetes);
  try {
    const outcome = await leaveNode(client, name, owner);
    await state.clearHeldPodCIDR(config.stateDir);
    process.stdout.write(outcome.kind === 'deleted' ? `deleted Node ${name} (podCIDR ${outcome.podCIDR || 'none'}); flanneld on every node withdraws its routes\n` : `Node ${name} does not exist; nothing to delete\n`);
    return 0;
  } finally {
    client.close();
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}
