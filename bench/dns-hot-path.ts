/**
 * `npm run bench -- dns-hot-path`: the resolver's synchronous path in one process (no sockets), under
 * the shipped launcher's node flags: static answers (dns.hosts, their subdomains, .global names) and
 * cache hits, each through one reused QueryContext as the batched listener does. Reports time per
 * query against a floor loop measured in the same run (a ready answer copied out with the client's
 * ID), the heap's growth per query (the hot path's garbage: 0 is the target) and young-generation
 * collections per million queries. Takes about a minute; the machine's load moves the times, not the bytes.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/helpers/agent-process.js';
import { launcherNodeFlags } from './_shipped.js';

interface Measured {
  nsPerQuery: number;
  nsBest: number;
  bytesPerQuery: number;
  cleanChunks: number;
  minorGcsPerMillion: number;
}

export async function main(): Promise<void> {
  const flags = await launcherNodeFlags();
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...flags, join(REPO_ROOT, 'bench/_dns-hot-path-worker.ts')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`dns-hot-path worker exited ${r.status}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, { agent: Measured; floor: Measured }> & { clock: string; flags: string[]; answered: Record<string, number> };
  console.log(`\nDNS hot path (in process; clock: ${out.clock}; node flags: ${out.flags.join(' ') || 'none'})\n`);
  console.log('scenario  ns/query agent / floor, median (fastest chunk)  ratio median (fastest)  heap bytes/query agent / floor  agent young GCs per 1M queries');
  for (const name of ['static', 'cached']) {
    const { agent, floor } = out[name]!;
    const ns = (m: Measured): string => `${m.nsPerQuery.toFixed(0)} (${m.nsBest.toFixed(0)})`;
    console.log(
      `${name.padEnd(8)}  ${`${ns(agent)} / ${ns(floor)}`.padEnd(45)}  ${`${(agent.nsPerQuery / floor.nsPerQuery).toFixed(2)} (${(agent.nsBest / floor.nsBest).toFixed(2)})`.padEnd(22)}  ` +
        `${`${agent.bytesPerQuery.toFixed(3)} / ${floor.bytesPerQuery.toFixed(3)}`.padEnd(30)}  ${agent.minorGcsPerMillion.toFixed(1)}`,
    );
  }
  console.log('heap bytes/query: median over chunks of 20,000 queries that no collection interrupted; the floor\'s is the measurement\'s own (one statistics object per chunk).');
  console.log(`\nanswered: ${JSON.stringify(out.answered)} (other must be 0: every query hit a table or the cache)`);
}
