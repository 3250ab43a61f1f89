/**
 * Config as an attacker would write it: prototype keys, rule text smuggled into addresses, CIDRs
 * and ports, hostile env-file values and resolv.conf lines. Shown against the loader in this
 * process (Object.prototype stays clean), the check-config CLI, and the real agent in a namespace
 * of its own (nothing reaches iptables: iptables-save stays as it was).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripSaveNoise } from '../../src/capture/save-parse.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, ErrorCode } from '../../src/errors.js';
import { cliArgv, startAgent } from '../helpers/agent-process.js';
import { run, waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const INJECTED = '-A ISTIO_OUTPUT -j ACCEPT';
const AGENT_GID = String(21000 + (process.pid % 1000));
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];

/** YAML whose forbidden key sits at a known line and column, in a map, a nested map and a list item. */
const placements = (key: string): { yaml: string; at: string; path: string }[] => [
  { yaml: `${key}:\n  polluted: yes\n`, at: '1:1', path: key },
  { yaml: `status:\n  ${key}:\n    polluted: yes\n`, at: '2:3', path: `status.${key}` },
  { yaml: `overlay:\n  peers:\n    - { "${key}": { polluted: yes } }\n`, at: '3:9', path: `overlay.peers.0.${key}` },
];

function assertClean(): void {
  const probe: Record<string, unknown> = {};
  assert.equal(probe.polluted, undefined, 'Object.prototype polluted');
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  assert.equal(typeof probe.constructor, 'function');
}

describe('hostile config', () => {
  let dir: string;
  let vm: Netns;
  const write = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const save = async (): Promise<string> => `${stripSaveNoise(await vm.must('iptables-save', []))}${stripSaveNoise(await vm.must('ip6tables-save', []))}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-tcc-'));
    vm = await createNetns('tcccfg');
    // Tables that exist already, with a foreign rule each: "untouched" then means byte for byte.
    for (const tool of ['iptables-restore', 'ip6tables-restore']) {
      await vm.must(tool, ['--noflush'], '*nat\n-A OUTPUT -p udp --dport 9 -j RETURN\nCOMMIT\n*raw\n-A OUTPUT -p udp --dport 9 -j NOTRACK\nCOMMIT\n');
    }
  });

  after(async () => {
    await vm.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('the loader refuses __proto__, constructor and prototype with their position; Object.prototype stays clean', async () => {
    for (const key of PROTO_KEYS) {
      for (const { yaml, at, path } of placements(key)) {
        const file = await write('proto.yaml', yaml);
        await assert.rejects(loadConfig({ path: file, mustExist: true }), (err: unknown) => {
          assert.ok(err instanceof ConfigError && err.code === ErrorCode.ConfigInvalid);
          assert.deepEqual(err.message.split('\n'), [`${file}:${at}: ${path}: "${key}" is not allowed as a key (it names JavaScript object internals); remove it`]);
          return true;
        });
        assertClean();
      }
    }
  });

  test('check-config: exit 1 with file:line:col for a prototype key, exit 0 once it is gone', async () => {
    const file = await write('check.yaml', `dns:\n  enabled: false\n  __proto__:\n    polluted: yes\n`);
    const [node = process.execPath, ...args] = cliArgv('check-config', '--config', file);
    const bad = await run(node, args);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stderr, new RegExp(`^${file.replace(/[.]/g, '\\.')}:3:3: dns\\.__proto__: "__proto__" is not allowed as a key`, 'm'));
    assert.match(bad.stderr, /config invalid: 1 problem\(s\)/);
    await write('check.yaml', `dns:\n  enabled: false\n`);
    assert.equal((await run(node, args)).code, 0);
  });

  test('rule text smuggled into addresses, CIDRs, ports, owners and env values is refused with its position', async () => {
    const clusterEnv = await write('cluster.env', '');
    const cases: [string, string, RegExp][] = [
      ['dns.listen', `dns:\n  allowRemote: true\n  listen: ["127.0.0.1 -j ACCEPT\\n${INJECTED}:53"]\n`, /:3:12: dns\.listen\.0: not IP:PORT/],
      ['dns.listen name', 'dns:\n  listen: ["localhost:53"]\n', /:2:12: dns\.listen\.0: not IP:PORT/],
      ['dns upstream', 'dns:\n  upstreams: ["10.0.0.1 -j ACCEPT"]\n', /:2:15: dns\.upstreams\.0: not an address/],
      ['service CIDR', `capture:\n  serviceCIDRs: ["10.96.0.0/16\\n${INJECTED}"]\n`, /:2:18: capture\.serviceCIDRs\.0: not a CIDR/],
      ['inbound ports', 'capture:\n  inboundPorts: "8080,70000"\n', /:2:17: capture\.inboundPorts: write "\*" or a comma-separated list of ports \(1-65535\)/],
      ['inbound ports newline', `capture:\n  inboundPorts: "8080\\n${INJECTED}"\n`, /capture\.inboundPorts: write/],
      ['proxy user root', 'capture:\n  proxyUser: "0"\n', /:2:14: capture\.proxyUser: must not be root/],
      ['agent group root', 'capture:\n  agentGroup: root\n', /:2:15: capture\.agentGroup: must not be root/],
      ['CA address', 'identity:\n  ca:\n    address: "istiod.svc -x:15012"\n', /:3:14: identity\.ca\.address: not HOST:PORT/],
    ];
    for (const [name, yaml, expected] of cases) {
      const file = await write('values.yaml', `istio: { clusterEnv: ${clusterEnv}, sidecarEnv: "" }\n${yaml}`.replace(/^(\w+):\n/m, '$&'));
      const err = await loadConfig({ path: file, mustExist: true }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ConfigError, `${name}: accepted`);
      // Positions count the istio line at the top.
      const shifted = new RegExp(expected.source.replace(/^:(\d+):/, (_m, line: string) => `:${Number(line) + 1}:`));
      assert.match(err.message, shifted, name);
    }
    const envCases: [string, RegExp][] = [
      ["ISTIO_SERVICE_CIDR='10.96.0.0/16,1.2.3.4 -j ACCEPT'", /cluster\.env:1:1: capture\.serviceCIDRs\.1 \(ISTIO_SERVICE_CIDR\): not a CIDR/],
      ["ISTIO_INBOUND_PORTS='80 -j ACCEPT'", /cluster\.env:1:1: capture\.inboundPorts \(ISTIO_INBOUND_PORTS\): write "\*"/],
      ['PROXY_UID=0', /cluster\.env:1:1: capture\.proxyUser \(PROXY_UID\): must not be root/],
      ["CA_ADDR='istiod\r:15012'", /cluster\.env:1:9: CA_ADDR: control character U\+000D in the value/],
    ];
    for (const [line, expected] of envCases) {
      await writeFile(clusterEnv, `${line}\n`);
      const file = await write('values.yaml', `istio: { clusterEnv: ${clusterEnv}, sidecarEnv: "" }\n`);
      const err = await loadConfig({ path: file, mustExist: true }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ConfigError, `${line}: accepted`);
      assert.match(err.message, expected, line);
    }
  });

  test('the real agent with a hostile dns.listen or env value never starts: iptables untouched', async () => {
    const baseline = await save();
    // No serviceCIDRs in the YAML: the env file's value is the one that counts.
    const capture = { enabled: true, dns: true, proxyUser: '4243', agentGroup: AGENT_GID };
    const clusterEnv = join(dir, 'agent-cluster.env');
    for (const [config, env] of [
      [{ capture, dns: { allowRemote: true, listen: [`127.0.0.1 -j ACCEPT\n${INJECTED}:53`] } }, "ISTIO_SERVICE_CIDR='10.96.0.0/16'\n"],
      [{ capture }, "ISTIO_SERVICE_CIDR='10.96.0.0/16,0.0.0.0/0 -j ACCEPT'\n"],
    ] as const) {
      await writeFile(clusterEnv, env);
      const agent = await startAgent({ ns: vm, config: { ...config, istio: { clusterEnv, sidecarEnv: '' } } });
      try {
        const code = await waitFor('the agent to exit', () => agent.proc.exitCode ?? false, 20_000, 50).catch(() => `still running:\n${agent.logs()}`);
        assert.equal(code, 1, agent.logs());
        assert.match(agent.logs(), /mesh-node-agent: not started; fix the config/);
        assert.equal(await save(), baseline);
      } finally {
        await agent.cleanup();
      }
    }
  });

  test('hostile resolv.conf lines never become rules: only well-formed nameservers are captured', async () => {
    const baseline = await save();
    const state = join(dir, 'state-resolv');
    await mkdir(state, { recursive: true });
    // A CRLF line ending is just a line ending; a word after the address, a NUL inside it, a
    // zone, or a rule line of its own never make it into the rules.
    const lines = ['nameserver 10.0.0.9 -j ACCEPT', 'nameserver 10.0.0.10\r', INJECTED, 'nameserver 10.0.0.12\u0000-A OUTPUT -j ACCEPT', 'nameserver fe80::1%eth0', 'nameserver 10.0.0.53'];
    await writeFile(join(state, 'resolv.conf'), `${lines.join('\n')}\n`);
    const agent = await startAgent({
      ns: vm,
      config: { stateDir: state, capture: { enabled: true, dns: true, serviceCIDRs: ['10.96.0.0/16'], proxyUser: '4243', agentGroup: AGENT_GID, resync: '1h' }, dns: { listen: ['127.0.0.1:15053'] } },
    });
    try {
      await agent.waitReady();
      const nat = await vm.must('iptables-save', ['-t', 'nat']);
      const dnsRules = nat.split('\n').filter((l) => l.startsWith('-A ISTIO_OUTPUT_DNS') && l.includes(' -d '));
      assert.deepEqual([...new Set(dnsRules.map((l) => /-d (\S+)/.exec(l)?.[1]))], ['10.0.0.10/32', '10.0.0.53/32'], nat);
      assert.ok(!nat.split('\n').some((l) => /^-A ISTIO_OUTPUT -j ACCEPT/.test(l)), nat);
    } finally {
      await agent.stop('SIGTERM');
      await agent.cleanup();
    }
    assert.equal(await save(), baseline);
  });
});
