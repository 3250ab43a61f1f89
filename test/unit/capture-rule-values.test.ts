/** The builder's last gate: a value that is not a port, owner id, address or CIDR never becomes rule text. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRules, type CaptureInput } from '../../src/capture/rules.js';
import { captureInputProblems } from '../../src/capture/rule-values.js';
import { AgentError, ErrorCode } from '../../src/errors.js';

const good: CaptureInput = {
  inboundPorts: [8080],
  inboundExcludePorts: [22, 15030],
  serviceCIDRs: ['10.96.0.0/16'],
  serviceExcludeCIDRs: ['10.96.1.0/24'],
  proxyUids: [1337],
  proxyGids: [1337],
  agentGid: 998,
  outboundPort: 15001,
  inboundPort: 15006,
  dns: { nameservers: ['10.0.0.2', 'fd00::53'], listen: { 4: { host: '127.0.0.1', port: 15053 }, 6: { host: '::1', port: 15053 } } },
  ipv6: true,
};

const INJECTION = '127.0.0.1 -j ACCEPT\n-A ISTIO_OUTPUT -j ACCEPT';

const hostile: [string, Partial<CaptureInput>, RegExp][] = [
  ['a DNS listener host carrying rule text', { dns: { nameservers: ['10.0.0.2'], listen: { 4: { host: INJECTION, port: 53 } } } }, /DNS listener "127\.0\.0\.1 -j ACCEPT\\n-A ISTIO_OUTPUT -j ACCEPT" is not an IPv4 address/],
  ['a nameserver with a newline', { dns: { nameservers: ['10.0.0.2\n-A OUTPUT -j ACCEPT'], listen: { 4: { host: '127.0.0.1', port: 53 } } } }, /nameserver "10\.0\.0\.2\\n-A OUTPUT -j ACCEPT" is not an IP address/],
  ['an IPv6 nameserver with a zone', { dns: { nameservers: ['fe80::1%eth0'], listen: { 6: { host: '::1', port: 53 } } } }, /nameserver "fe80::1%eth0"/],
  ['an IPv6 listener for the IPv4 rules', { dns: { nameservers: ['10.0.0.2'], listen: { 4: { host: '::1', port: 53 } } } }, /DNS listener "::1" is not an IPv4 address/],
  ['a service CIDR with a newline', { serviceCIDRs: ['10.96.0.0/16\n-A OUTPUT -j ACCEPT'] }, /service CIDR "10\.96\.0\.0\/16\\n-A OUTPUT -j ACCEPT" is not a CIDR/],
  ['an excluded CIDR that is "*"', { serviceExcludeCIDRs: ['*'] }, /excluded service CIDR "\*" is not a CIDR/],
  ['port 0', { outboundPort: 0 }, /outbound port 0 is not a port/],
  ['a port above 65535', { inboundPorts: [70000] }, /inbound port 70000 is not a port/],
  ['a fractional port', { inboundExcludePorts: [22.5] }, /excluded inbound port 22\.5/],
  ['the proxy as root', { proxyUids: [0] }, /proxy uid 0 is not a uid\/gid other than 0 \(root never bypasses capture\)/],
  ['the proxy group as root', { proxyGids: [0] }, /proxy gid 0/],
  ["the agent's group as root", { agentGid: 0 }, /agent's gid 0/],
  ['an id beyond 32 bits', { proxyUids: [2 ** 32] }, /proxy uid 4294967296/],
];

describe('capture rule values', () => {
  test('valid input builds, with the agent bypass as a group', () => {
    assert.deepEqual(captureInputProblems(good), []);
    const nat = buildRules(good)[4].find((t) => t.table === 'nat')?.rules ?? [];
    assert.ok(nat.includes('-A ISTIO_OUTPUT -m owner --gid-owner 998 --suppl-groups -j RETURN'));
  });

  for (const [name, change, expected] of hostile) {
    test(`refused before any rule text: ${name}`, () => {
      const input = { ...good, ...change };
      assert.throws(
        () => buildRules(input),
        (err: unknown) => AgentError.is(err) && err.code === ErrorCode.UnsafeValue && expected.test(err.message),
      );
    });
  }
});
