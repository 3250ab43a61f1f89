/** SIGHUP and wait until the agent has applied the new config (or rejected it): no reload leaks into what follows. */
import type { AgentHandle } from './agent-process.js';
import { waitFor } from './exec.js';

interface ConfigStatus {
  generation: number;
  lastReload?: { ok: boolean; at: string; error?: string };
}

async function configStatus(agent: AgentHandle): Promise<ConfigStatus> {
  const res = await agent.get('/status');
  if (res.status !== 200) throw new Error(`/status answered ${res.status}`);
  return (JSON.parse(res.body) as { config: ConfigStatus }).config;
}

/** Resolves once the agent's config generation has moved on; rejects with the agent's reason if it refused the file. */
export async function reloadAgent(agent: AgentHandle, timeoutMs = 30_000): Promise<void> {
  const before = await configStatus(agent);
  agent.proc.kill('SIGHUP');
  const after = await waitFor('the agent to answer the reload', async () => {
    if (agent.proc.exitCode !== null) throw new Error(`agent exited (${agent.proc.exitCode})`);
    const now = await configStatus(agent);
    const answered = now.generation > before.generation || (now.lastReload !== undefined && now.lastReload.at !== before.lastReload?.at);
    return answered ? now : undefined;
  }, timeoutMs, 50);
  if (after.generation <= before.generation) throw new Error(`reload rejected: ${after.lastReload?.error ?? 'unknown'}\n${agent.logs()}`);
}
