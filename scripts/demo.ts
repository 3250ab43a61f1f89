/**
 * `npm run demo` (as root): the seeds' mesh-expansion scenario in network namespaces, with
 * mesh-node-agent doing on the VM what the operator did by hand. Prints a progress line per step,
 * then a report in which every line is a real check. Leaves nothing behind (Ctrl-C included);
 * `--keep` leaves it running to explore. `--kubernetes`: the same topology with flannel's kube
 * subnet manager (a kube-apiserver with the nodes' Nodes) instead of its etcd registry, and the
 * ServiceEntries read from the cluster.
 */
import { runScenario, type Scenario } from '../test/e2e/scenario.js';

const keep = process.argv.includes('--keep');
const kubernetes = process.argv.includes('--kubernetes');
const started = Date.now();
let scenario: Scenario | undefined;
let tearingDown = false;

async function teardown(code: number): Promise<never> {
  if (!tearingDown) {
    tearingDown = true;
    process.stdout.write('cleaning up: stopping processes, deleting namespaces...\n');
    await scenario?.teardown();
  }
  process.exit(code);
}

process.on('SIGINT', () => void teardown(130));
process.on('SIGTERM', () => void teardown(143));

if (process.getuid?.() !== 0) {
  process.stderr.write('npm run demo needs root: it creates network namespaces, VXLAN devices and iptables rules.\n');
  process.exit(1);
}

let n = 0;
const step = (message: string): void => {
  n += 1;
  process.stdout.write(`[${String(n).padStart(2)}] ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${message}\n`);
};

try {
  scenario = await runScenario(step, { kubernetes });
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

const width = Math.max(...scenario.checks.map((c) => c.name.length));
process.stdout.write('\nmesh-node-agent joined the VM deb-nginx01 (192.168.0.81) to the mesh:\n\n');
for (const check of scenario.checks) {
  process.stdout.write(`  ${check.ok ? 'PASS' : 'FAIL'}  ${check.name.padEnd(width)}  ${check.detail}\n`);
}
// The summary table; each controller's details follow in the full output (shown with --keep).
const statusLines = scenario.statusText.split('\n');
const detailsAt = statusLines.findIndex((line) => /^\w+:$/.test(line));
const summary = (keep || detailsAt < 0 ? statusLines : statusLines.slice(0, detailsAt)).join('\n').trimEnd();
process.stdout.write(`\n$ mesh-node-agent status\n${summary.replace(/^/gm, '  ')}\n\n`);
const failed = scenario.checks.filter((c) => !c.ok).length;
process.stdout.write(`${scenario.checks.length - failed} of ${scenario.checks.length} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

if (keep) {
  process.stdout.write(
    [
      '',
      'Left running (--keep). Explore the VM:',
      `  ip netns exec ${scenario.topology.vm.name} bash`,
      '  then e.g.: ip -d link show flannel.1; ip route; dig @127.0.0.1 nginx-v1.default.svc.cluster.local;',
      `  iptables-save -t nat; ${process.execPath} --import tsx src/main.ts status`,
      `Nodes: ${scenario.topology.nodes.map((node) => `${node.name}=${node.ns.name}`).join(' ')}`,
      'Press Ctrl-C to tear everything down.',
      '',
    ].join('\n'),
  );
  setInterval(() => undefined, 60_000);
} else {
  await teardown(failed === 0 ? 0 : 1);
}
