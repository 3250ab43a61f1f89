/**
 * `npm run bench -- capture [rounds]`: time to apply and verify the full capture rule set (nat +
 * raw, IPv4 + IPv6, DNS capture) in a scratch network namespace, and the cost of one in-sync
 * resync tick, against a reference measured in the same run: the same rules written one
 * `iptables -A` call at a time, as Istio 1.1's istio-iptables.sh did. Needs root.
 */
import { detectBinaries, Iptables, type Exec } from '../src/capture/iptables.js';
import { buildRules, familyOf, type CaptureInput } from '../src/capture/rules.js';
import { tokenize } from '../src/capture/canonical.js';
import { run } from '../test/helpers/exec.js';
import { createNetns } from '../test/helpers/netns.js';
import { median } from './_stats.js';

const input: CaptureInput = {
  inboundPorts: '*',
  inboundExcludePorts: [22, 15090, 15021, 15020, 15030],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:96::/112'],
  serviceExcludeCIDRs: ['10.96.99.0/24'],
  proxyUids: [1337],
  proxyGids: [1337],
  agentGid: 1500,
  outboundPort: 15001,
  inboundPort: 15006,
  dns: { nameservers: ['127.0.0.53', 'fd00::53'], listen: { 4: { host: '127.0.0.1', port: 15053 }, 6: { host: '::1', port: 15053 } } },
  ipv6: true,
};

export async function main(args: string[]): Promise<void> {
  const rounds = Number(args[0] ?? 10);
  const ns = await createNetns('cap');
  try {
    const exec: Exec = (cmd, a, stdin) => run('ip', ['netns', 'exec', ns.name, cmd, ...a], stdin === undefined ? {} : { input: stdin });
    const ipt = new Iptables(await detectBinaries(exec), exec);
    const rules = buildRules(input);
    const ruleCount = [...rules[4], ...rules[6]].reduce((n, t) => n + t.rules.length, 0);
    const agent: number[] = [];
    const tick: number[] = [];
    const reference: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      let t = performance.now();
      const { mismatch } = await ipt.apply(rules);
      agent.push(performance.now() - t);
      if (mismatch.length > 0) throw new Error(`verify failed: ${mismatch.join('; ')}`);
      t = performance.now();
      await ipt.apply(rules);
      tick.push(performance.now() - t);
      await ipt.cleanup();

      t = performance.now();
      for (const family of [4, 6] as const) {
        const bin = family === 4 ? 'iptables' : 'ip6tables';
        for (const table of rules[family]) {
          for (const chain of table.chains) await exec(bin, ['-w', '-t', table.table, '-N', chain]);
          for (const rule of table.rules) {
            const r = await exec(bin, ['-w', '-t', table.table, ...tokenize(rule)]);
            if (r.code !== 0) throw new Error(`${bin} ${rule}: ${r.stderr}`);
          }
        }
      }
      reference.push(performance.now() - t);
      await ipt.cleanup();
    }
    const a = median(agent);
    const r = median(reference);
    console.log(`capture bench: ${ruleCount} rules (${rules[4].length + rules[6].length} tables, families ${[...new Set(input.serviceCIDRs.map(familyOf))].join('+')}), ${rounds} rounds, backend ${ipt.binaries.backend}`);
    console.log(`  apply+verify (restore, one transaction per table): median ${a.toFixed(1)} ms`);
    console.log(`  in-sync resync tick (save + compare, no restore):  median ${median(tick).toFixed(1)} ms`);
    console.log(`  reference, one iptables call per rule:             median ${r.toFixed(1)} ms`);
    console.log(`  ratio apply/reference: ${(a / r).toFixed(3)} (lower is better)`);
  } finally {
    await ns.destroy();
  }
}
