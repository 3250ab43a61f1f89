/**
 * The builder against Istio's golden rules (reference istio.md §4; Istio's
 * tools/istio-iptables/pkg/capture/testdata). Compared per chain in canonical form: the order
 * inside a chain matters, the interleaving of chains does not (Istio's own goldens vary in it).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalRule } from '../../src/capture/canonical.js';
import { buildFamily, type CaptureInput, type TableRules } from '../../src/capture/rules.js';

type Tables = Record<string, { chains: string[]; rules: Record<string, string[]> }>;

/** Istio restore-style text (`* nat`, `-N`, `-A`, `COMMIT`) → tables of canonical rules per chain. */
function fromGolden(text: string): Tables {
  const out: Tables = {};
  let table = '';
  for (const line of text.split('\n').map((l) => l.replace(/#.*$/, '').trim())) {
    if (line.startsWith('* ')) {
      table = line.slice(2);
      out[table] ??= { chains: [], rules: {} };
    } else if (line.startsWith('-N ')) {
      out[table]?.chains.push(line.slice(3));
    } else if (line.startsWith('-A ')) {
      const { chain, spec } = canonicalRule(line);
      const rules = out[table]?.rules;
      if (rules !== undefined) (rules[chain] ??= []).push(spec);
    }
  }
  return out;
}

function fromBuilt(tables: readonly TableRules[]): Tables {
  return fromGolden(tables.map((t) => [`* ${t.table}`, ...t.chains.map((c) => `-N ${c}`), ...t.rules, 'COMMIT'].join('\n')).join('\n'));
}

function sortedChains(t: Tables): Tables {
  const out: Tables = {};
  for (const [name, table] of Object.entries(t)) out[name] = { chains: [...table.chains].sort(), rules: table.rules };
  return out;
}

const base: CaptureInput = {
  inboundPorts: [],
  inboundExcludePorts: [],
  serviceCIDRs: [],
  serviceExcludeCIDRs: [],
  proxyUids: [1337],
  proxyGids: [1337],
  outboundPort: 15001,
  inboundPort: 15006,
  ipv6: false,
};

const HEADER = `* nat
-N ISTIO_INBOUND
-N ISTIO_REDIRECT
-N ISTIO_IN_REDIRECT
-N ISTIO_OUTPUT
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006`;

const OWNER_1337 = `-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN`;

describe('capture builder vs Istio golden rules', () => {
  test('inbound "*" with the VM exclusions (22,15090,15021,15020) and service CIDR "*"', () => {
    const golden = `${HEADER}
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 22 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
${OWNER_1337}
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
COMMIT`;
    const built = buildFamily({ ...base, inboundPorts: '*', inboundExcludePorts: [22, 15090, 15021, 15020], serviceCIDRs: ['*'] }, 4);
    assert.deepEqual(sortedChains(fromBuilt(built)), sortedChains(fromGolden(golden)));
  });

  test('inbound "*" without exclusions and no service CIDRs (inbound-ports-wildcard.golden)', () => {
    const golden = `${HEADER}
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
${OWNER_1337}
COMMIT`;
    const built = buildFamily({ ...base, inboundPorts: '*' }, 4);
    assert.deepEqual(sortedChains(fromBuilt(built)), sortedChains(fromGolden(golden)));
  });

  test('inbound port list (inbound-ports-include.golden)', () => {
    const golden = `${HEADER}
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 32000 -j ISTIO_IN_REDIRECT
-A ISTIO_INBOUND -p tcp --dport 31000 -j ISTIO_IN_REDIRECT
${OWNER_1337}
COMMIT`;
    const built = buildFamily({ ...base, inboundPorts: [32000, 31000] }, 4);
    assert.deepEqual(sortedChains(fromBuilt(built)), sortedChains(fromGolden(golden)));
  });

  test('service CIDR list (ipnets.golden; seed 001: 10.233.0.0/16)', () => {
    for (const cidr of ['10.0.0.0/8', '10.233.0.0/16']) {
      const golden = `${HEADER}
${OWNER_1337}
-A ISTIO_OUTPUT -d ${cidr} -j ISTIO_REDIRECT
COMMIT`;
      const built = buildFamily({ ...base, serviceCIDRs: [cidr] }, 4);
      assert.deepEqual(sortedChains(fromBuilt(built)), sortedChains(fromGolden(golden)));
    }
  });

  test('service CIDR include with exclude (ip-range.golden order: excludes RETURN before includes)', () => {
    const golden = `${HEADER}
${OWNER_1337}
-A ISTIO_OUTPUT -d 1.1.0.0/16 -j RETURN
-A ISTIO_OUTPUT -d 9.9.0.0/16 -j ISTIO_REDIRECT
COMMIT`;
    const built = buildFamily({ ...base, serviceCIDRs: ['9.9.0.0/16'], serviceExcludeCIDRs: ['1.1.0.0/16'] }, 4);
    assert.deepEqual(sortedChains(fromBuilt(built)), sortedChains(fromGolden(golden)));
  });

  describe('DNS capture (dns-uid-gid.golden: uids 3,4, gids 1,2, resolver 127.0.0.53, listener :15053)', () => {
    const dnsGolden = (lo: string, six: string, ns: string): string => `* nat
-N ISTIO_INBOUND
-N ISTIO_REDIRECT
-N ISTIO_IN_REDIRECT
-N ISTIO_OUTPUT
-N ISTIO_OUTPUT_DNS
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -o lo -s ${six} -j RETURN
-A ISTIO_OUTPUT -o lo ! -d ${lo} -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 3 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d ${lo} -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 4 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d ${lo} -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d ${lo} -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 2 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
-A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d ${ns} -j REDIRECT --to-ports 15053
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 3 -j RETURN
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 4 -j RETURN
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1 -j RETURN
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 2 -j RETURN
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d ${ns} -j REDIRECT --to-port 15053
-A ISTIO_OUTPUT -d ${lo} -j RETURN
COMMIT
* raw
-N ISTIO_OUTPUT_DNS
-N ISTIO_INBOUND
-A OUTPUT -j ISTIO_OUTPUT_DNS
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 3 -j CT --zone 1
-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 3 -j CT --zone 2
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 4 -j CT --zone 1
-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 4 -j CT --zone 2
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1 -j CT --zone 1
-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1 -j CT --zone 2
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 2 -j CT --zone 1
-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 2 -j CT --zone 2
-A PREROUTING -j ISTIO_INBOUND
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d ${ns} -j CT --zone 2
-A ISTIO_INBOUND -p udp --sport 53 -s ${ns} -j CT --zone 1
COMMIT`;
    const dnsInput: CaptureInput = {
      ...base,
      proxyUids: [3, 4],
      proxyGids: [1, 2],
      dns: { nameservers: ['127.0.0.53', '::127.0.0.53'], listen: { 4: { host: '127.0.0.1', port: 15053 }, 6: { host: '::1', port: 15053 } } },
      ipv6: true,
    };

    test('IPv4 (iptables)', () => {
      assert.deepEqual(sortedChains(fromBuilt(buildFamily(dnsInput, 4))), sortedChains(fromGolden(dnsGolden('127.0.0.1/32', '127.0.0.6/32', '127.0.0.53/32'))));
    });

    test('IPv6 (ip6tables)', () => {
      assert.deepEqual(sortedChains(fromBuilt(buildFamily(dnsInput, 6))), sortedChains(fromGolden(dnsGolden('::1/128', '::6/128', '::127.0.0.53/128'))));
    });

    test("the agent's group gets the proxy bypass for DNS (no loop): RETURN in nat, CT zones in raw; root gets nothing", () => {
      const tables = buildFamily({ ...dnsInput, proxyUids: [1337], proxyGids: [1337], agentGid: 998 }, 4);
      const nat = tables.find((t) => t.table === 'nat')?.rules ?? [];
      const raw = tables.find((t) => t.table === 'raw')?.rules ?? [];
      const agent = '-m owner --gid-owner 998 --suppl-groups';
      assert.ok(nat.includes(`-A ISTIO_OUTPUT ${agent} -j RETURN`));
      assert.ok(nat.includes(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 ${agent} -j RETURN`));
      assert.ok(raw.includes(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 ${agent} -j CT --zone 1`));
      assert.ok(raw.includes(`-A ISTIO_OUTPUT_DNS -p udp --sport 15053 ${agent} -j CT --zone 2`));
      // After the proxy's owner rules (Istio's order untouched), before the redirects.
      const bypass = nat.indexOf(`-A ISTIO_OUTPUT ${agent} -j RETURN`);
      assert.ok(bypass > nat.indexOf('-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN'));
      assert.ok(bypass < nat.indexOf('-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS'));
      // No hairpin into the inbound port for the agent (it is not a proxy), and no owner 0 anywhere.
      assert.ok(!nat.some((r) => r.includes('--gid-owner 998') && r.includes('ISTIO_IN_REDIRECT')));
      assert.ok(![...nat, ...raw].some((r) => /-owner 0\b/.test(r)), 'root never bypasses');
    });

    test('a listener on another address is reached by DNAT to exactly that address', () => {
      const tables = buildFamily({ ...dnsInput, dns: { nameservers: ['10.0.0.2'], listen: { 4: { host: '127.0.0.2', port: 5353 } } } }, 4);
      const nat = tables.find((t) => t.table === 'nat')?.rules ?? [];
      assert.ok(nat.includes('-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 10.0.0.2/32 -j DNAT --to-destination 127.0.0.2:5353'));
      assert.ok(nat.includes('-A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d 10.0.0.2/32 -j DNAT --to-destination 127.0.0.2:5353'));
    });
  });
});
