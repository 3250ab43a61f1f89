/**
 * The iptables shell against the real kernel, inside namespaces this test creates: apply as one
 * transaction per table, verify against iptables-save, repair drift, start over crash residue,
 * clean up to exactly the previous ruleset, on both the nft and the legacy backend.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { detectBinaries, Iptables, type Binaries, type Exec } from '../../src/capture/iptables.js';
import { buildRules, type CaptureInput } from '../../src/capture/rules.js';
import { stripSaveNoise } from '../../src/capture/save-parse.js';
import { run } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const input: CaptureInput = {
  inboundPorts: '*',
  inboundExcludePorts: [22, 15090, 15021, 15020, 15030],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:96::/112'],
  serviceExcludeCIDRs: ['10.96.99.0/24', 'fd00:96::1:5/120'], // the second is not a network address: the kernel masks it
  proxyUids: [1337],
  proxyGids: [1337],
  agentGid: 1500,
  outboundPort: 15001,
  inboundPort: 15006,
  dns: { nameservers: ['127.0.0.53', 'fd00::53'], listen: { 4: { host: '127.0.0.1', port: 15053 }, 6: { host: '::1', port: 15053 } } },
  ipv6: true,
};
const rules = buildRules(input);

/** Other tools' rules in every table: they must come through apply and cleanup unchanged. */
const FOREIGN = `*filter
:FOREIGN - [0:0]
-A INPUT -p tcp --dport 22 -j ACCEPT
-A FOREIGN -j RETURN
COMMIT
*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT -d 192.0.2.1/32 -j RETURN
-A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE
COMMIT
*raw
-A PREROUTING -p udp --dport 4789 -j NOTRACK
COMMIT
*mangle
-A OUTPUT -p tcp --dport 9999 -j MARK --set-mark 7
COMMIT
`;

function inNs(ns: Netns): Exec {
  return (cmd, args, stdin) => run('ip', ['netns', 'exec', ns.name, cmd, ...args], stdin === undefined ? {} : { input: stdin });
}

async function saveBoth(ipt: Iptables): Promise<string> {
  return `${stripSaveNoise(await ipt.saveAll(4))}\n--v6--\n${stripSaveNoise(await ipt.saveAll(6))}`;
}

function forBackend(backend: 'nft' | 'legacy'): void {
  describe(`capture applier (${backend} backend)`, () => {
    let ns: Netns;
    let ipt: Iptables;
    let exec: Exec;
    let baseline = '';

    before(async () => {
      ns = await createNetns('cap');
      exec = inNs(ns);
      const detected = await detectBinaries(exec);
      const binaries: Binaries =
        backend === detected.backend
          ? detected
          : { backend, save: { 4: `iptables-${backend}-save`, 6: `ip6tables-${backend}-save` }, restore: { 4: `iptables-${backend}-restore`, 6: `ip6tables-${backend}-restore` } };
      ipt = new Iptables(binaries, exec);
      for (const family of [4, 6] as const) {
        const foreign = family === 4 ? FOREIGN : FOREIGN.replace('192.0.2.1/32', '2001:db8::1/128').replace('172.17.0.0/16', 'fd17::/64');
        const r = await exec(binaries.restore[family], ['--noflush'], foreign);
        assert.equal(r.code, 0, r.stderr);
      }
      baseline = await saveBoth(ipt);
    });

    after(async () => {
      await ns.destroy();
    });

    test('apply installs exactly the built rules, and a second apply changes nothing', async () => {
      const first = await ipt.apply(rules);
      assert.deepEqual(first.mismatch, []);
      assert.ok(first.plans.some((p) => !p.inSync));
      const saved = await ipt.saveAll(4);
      assert.match(saved, /-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN/);
      assert.match(saved, /-A ISTIO_OUTPUT_DNS -d 127\.0\.0\.53\/32 -p udp -m udp --dport 53 -j CT --zone 2/);
      assert.match(await ipt.saveAll(6), /-A ISTIO_OUTPUT -d fd00:96::\/112 -j ISTIO_REDIRECT/);
      assert.deepEqual(await ipt.verifyFamily(4, rules[4]), []);
      assert.deepEqual(await ipt.verifyFamily(6, rules[6]), []);
      const second = await ipt.apply(rules);
      assert.ok(second.plans.every((p) => p.inSync), 'idempotent: no transaction when in sync');
    });

    test('drift (a deleted rule, a duplicated jump, a foreign rule in our chain) is found and repaired', async () => {
      const save4 = ipt.binaries.save[4];
      const restore4 = ipt.binaries.restore[4];
      assert.ok(save4.length > 0);
      const r = await exec(restore4, ['--noflush'], '*nat\n-D ISTIO_INBOUND -p tcp --dport 22 -j RETURN\n-A OUTPUT -j ISTIO_OUTPUT\n-A ISTIO_REDIRECT -j ACCEPT\nCOMMIT\n');
      assert.equal(r.code, 0, r.stderr);
      const drift = await ipt.verifyFamily(4, rules[4]);
      assert.deepEqual(drift.sort(), ['nat/ISTIO_INBOUND: rules differ', 'nat/ISTIO_REDIRECT: rules differ', 'nat/OUTPUT: jumps differ']);
      const repaired = await ipt.apply(rules);
      assert.deepEqual(repaired.mismatch, []);
      assert.deepEqual(await ipt.verifyFamily(4, rules[4]), []);
    });

    test('cleanup restores iptables-save to exactly what it was before', async () => {
      await ipt.cleanup();
      assert.equal(await saveBoth(ipt), baseline);
    });

    test('start over crash residue of another rule set (istio#52961) is one clean apply', async () => {
      // An older istio-iptables layout: OUTPUT -p tcp jump, a stale exclude, a raw chain we no longer want.
      const residue = '*nat\n:ISTIO_OUTPUT - [0:0]\n:ISTIO_REDIRECT - [0:0]\n-A OUTPUT -p tcp -j ISTIO_OUTPUT\n-A OUTPUT -p tcp -j ISTIO_OUTPUT\n-A ISTIO_OUTPUT -d 10.233.0.0/16 -j ISTIO_REDIRECT\n-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\nCOMMIT\n*raw\n:ISTIO_INBOUND - [0:0]\n-A PREROUTING -j ISTIO_INBOUND\nCOMMIT\n';
      assert.equal((await exec(ipt.binaries.restore[4], ['--noflush'], residue)).code, 0);
      const noDns = buildRules({ ...input, dns: undefined, ipv6: false });
      const result = await ipt.apply(noDns);
      assert.deepEqual(result.mismatch, []);
      assert.doesNotMatch(await ipt.saveAll(4), /10\.233\.0\.0|-A PREROUTING -j ISTIO_INBOUND/);
      await ipt.cleanup();
      assert.equal(await saveBoth(ipt), baseline);
    });

    test('100 apply/cleanup cycles leave no residue', async () => {
      for (let i = 0; i < 100; i += 1) {
        const applied = await ipt.apply(i % 2 === 0 ? rules : buildRules({ ...input, serviceCIDRs: ['*'], ipv6: false }));
        assert.deepEqual(applied.mismatch, [], `cycle ${i}`);
        await ipt.cleanup();
      }
      assert.equal(await saveBoth(ipt), baseline);
    });
  });
}

forBackend('nft');
forBackend('legacy');
