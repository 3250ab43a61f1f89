/** Config → builder input: SSH and status ports never captured, proxy owner, nameservers (pure). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { defaultConfig } from '../../src/config/defaults.js';
import { captureInput } from '../../src/capture/input.js';
import { resolveProxyOwner } from '../../src/capture/owner.js';
import { parseGroupId } from '../../src/agent/agent-group.js';
import { parseNameservers } from '../../src/host/resolv-conf.js';
import { AgentError } from '../../src/errors.js';

function config(capture: Record<string, unknown>, extra: Record<string, unknown> = {}): ReturnType<typeof configSchema.parse> {
  const raw = defaultConfig();
  return configSchema.parse({ ...raw, ...extra, capture: { ...(raw.capture as object), enabled: true, ...capture } });
}

const facts = { owner: { uid: 1337, gid: 1337 }, agentGid: 1500, nameservers: ['127.0.0.53', '10.0.0.2', 'fd00::53'] };

describe('capture input', () => {
  test('inbound "*": 22 and the status port are excluded even when the user lists neither', () => {
    const { input } = captureInput(config({ inboundPorts: '*', localExcludePorts: [15090] }), facts);
    assert.equal(input.inboundPorts, '*');
    assert.deepEqual(input.inboundExcludePorts, [15090, 22, 15030]);
  });

  test('an explicit inbound list never captures 22 or the status port', () => {
    const { input, notes } = captureInput(config({ inboundPorts: '8080,22,15030,3306' }), facts);
    assert.deepEqual(input.inboundPorts, [8080, 3306]);
    assert.deepEqual(notes.droppedInbound, [22, 15030]);
  });

  test('empty inbound ports: no inbound capture', () => {
    assert.deepEqual(captureInput(config({ inboundPorts: '' }), facts).input.inboundPorts, []);
  });

  test('DNS capture takes the nameservers of families with a listener; IPv6 rules only when used', () => {
    const v4only = captureInput(config({ dns: true }), facts);
    assert.deepEqual(v4only.input.dns?.nameservers, ['127.0.0.53', '10.0.0.2']);
    assert.deepEqual(v4only.notes.skippedNameservers, ['fd00::53']);
    assert.equal(v4only.input.ipv6, false);
    const both = captureInput(config({ dns: true }, { dns: { ...(defaultConfig().dns as object), listen: ['127.0.0.1:15053', '[::1]:15053'] } }), facts);
    assert.deepEqual(both.input.dns?.nameservers, ['127.0.0.53', '10.0.0.2', 'fd00::53']);
    assert.equal(both.input.ipv6, true);
  });

  test('a nameserver that is the listener itself is not redirected onto itself', () => {
    const { input, notes } = captureInput(config({ dns: true }), { ...facts, nameservers: ['127.0.0.1', '10.0.0.2'] });
    assert.deepEqual(input.dns?.nameservers, ['10.0.0.2']);
    assert.deepEqual(notes.skippedNameservers, ['127.0.0.1']);
  });

  test('IPv6 service CIDRs turn on ip6tables', () => {
    assert.equal(captureInput(config({ serviceCIDRs: ['10.96.0.0/12', 'fd00:10::/108'] }), facts).input.ipv6, true);
    assert.equal(captureInput(config({ serviceCIDRs: ['*'] }), facts).input.ipv6, false);
  });
});

describe('proxy owner', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nistio-proxy:x:998:997::/var/lib/istio:/bin/false\nnogroup-user:x:1200:1300::/:/bin/false\n';
  const group = 'root:x:0:\nistio-proxy:x:996:\n';

  test('a name resolves via passwd, its gid via the group of the same name', () => {
    assert.deepEqual(resolveProxyOwner('istio-proxy', passwd, group), { uid: 998, gid: 996 });
  });
  test('without a group of that name, the primary group', () => {
    assert.deepEqual(resolveProxyOwner('nogroup-user', passwd, group), { uid: 1200, gid: 1300 });
  });
  test('a number is a uid and (as Istio defaults PROXY_GID) the gid', () => {
    assert.deepEqual(resolveProxyOwner('1337', passwd, group), { uid: 1337, gid: 1337 });
  });
  test('an unknown name is a clear error naming the key', () => {
    assert.throws(
      () => resolveProxyOwner('envoy', passwd, group),
      (err: unknown) => AgentError.is(err) && err.message.includes('capture.proxyUser') && err.message.includes('envoy'),
    );
  });
  test('root, by name, number or primary group, never bypasses capture', () => {
    const withRootGroup = `${passwd}wheelish:x:1400:0::/:/bin/false\n`;
    for (const user of ['root', '0', 'wheelish']) {
      assert.throws(
        () => resolveProxyOwner(user, withRootGroup, group),
        (err: unknown) => AgentError.is(err) && /root never bypasses capture/.test(err.message),
        user,
      );
    }
  });
});

describe('agent group', () => {
  test('a name resolves through /etc/group, a number as is; an unknown name is undefined', () => {
    const group = 'root:x:0:\nmesh-node-agent:x:997:\n';
    assert.equal(parseGroupId('mesh-node-agent', group), 997);
    assert.equal(parseGroupId('20001', group), 20001);
    assert.equal(parseGroupId('no-such-group', group), undefined);
  });
  test('the config refuses root as the agent group and as the proxy user, before any lookup', () => {
    for (const [key, value] of [['agentGroup', 'root'], ['agentGroup', '0'], ['proxyUser', '00'], ['proxyUser', 'bad name\n-A']] as const) {
      const raw = defaultConfig();
      const result = configSchema.safeParse({ ...raw, capture: { ...(raw.capture as object), [key]: value } });
      assert.equal(result.success, false, `${key}: ${JSON.stringify(value)}`);
    }
  });
});

test('resolv.conf nameservers: order kept, duplicates, comments and zones dropped', () => {
  assert.deepEqual(parseNameservers('# x\nnameserver 127.0.0.53\nsearch a\nnameserver fe80::1%eth0\nnameserver 127.0.0.53\nnameserver bogus\n'), ['127.0.0.53', 'fe80::1']);
});
