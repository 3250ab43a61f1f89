/**
 * The packaging's static files: the shipped conffile (as shipped, and with every documented example
 * uncommented) is a valid config, and the unit keeps the directives the agent depends on.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { CONTROLLER_NAMES } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/agent-process.js';

const CONFFILE = join(REPO_ROOT, 'debian/config.yaml');
const UNIT = join(REPO_ROOT, 'systemd/mesh-node-agent.service');

/** Uncomments key lines (`# key:`, `#   - {`), drops prose comments (they start with a capital). */
function uncommentExamples(text: string): string {
  return text
    .split('\n')
    .flatMap((line) => {
      if (!line.startsWith('#')) return [line];
      const body = line.replace(/^# ?/, '');
      return /^ *([a-z][A-Za-z]*:|- \{)/.test(body) ? [body] : [];
    })
    .join('\n');
}

async function loadText(text: string) {
  const dir = await mkdtemp(join(tmpdir(), 'mna-pkg-conf-'));
  try {
    const path = join(dir, 'config.yaml');
    // Istio env files of this host must not leak into the check.
    await writeFile(path, text.replace(/^# istio:.*$/m, `istio: { clusterEnv: ${dir}/none.env, sidecarEnv: ${dir}/none.env }`));
    return await loadConfig({ path, mustExist: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void describe('packaging: conffile', () => {
  void test('as shipped it is valid and turns every controller off', async () => {
    const { config } = await loadText(await readFile(CONFFILE, 'utf8'));
    for (const name of CONTROLLER_NAMES) assert.equal(config[name].enabled, false, `${name} must be off as shipped`);
    assert.equal(config.status.listen, '127.0.0.1:15030');
  });

  void test('every documented example, uncommented, is valid and means what the comments say', async () => {
    const text = uncommentExamples(await readFile(CONFFILE, 'utf8'));
    assert.match(text, /^overlay:$/m, 'the transformation uncommented the overlay section');
    const { config } = await loadText(text);
    assert.deepEqual(config.overlay.peers, [{ subnet: '10.234.0.0/24', publicIP: '192.168.0.72', vtepMAC: '5a:09:44:c7:a3:fb' }]);
    assert.deepEqual(config.dns.forward, [{ domain: 'svc.cluster.local', servers: ['192.168.0.62'] }]);
    assert.equal(config.identity.ca.address, 'istiod.istio-system.svc:15012');
    assert.equal(config.capture.outboundPort, 15001);
    for (const name of CONTROLLER_NAMES) assert.equal(config[name].enabled, false);
  });
});

void describe('packaging: systemd unit', () => {
  void test('keeps the directives the agent relies on and none that break Node', async () => {
    const lines = (await readFile(UNIT, 'utf8')).split('\n').filter((l) => /^[A-Za-z]+=/.test(l));
    const values = (key: string): string[] => lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
    assert.deepEqual(values('Type'), ['notify']);
    assert.deepEqual(values('NotifyAccess'), ['all'], 'the agent notifies through a systemd-notify child');
    assert.deepEqual(values('ExecStart'), ['/usr/bin/mesh-node-agent run']);
    assert.deepEqual(values('ExecStopPost'), ['/usr/bin/mesh-node-agent run --cleanup-only']);
    assert.deepEqual(values('Restart'), ['on-failure']);
    assert.ok(values('RestrictAddressFamilies').join(' ').split(' ').includes('AF_NETLINK'));
    const rw = values('ReadWritePaths').join(' ').split(' ');
    for (const path of ['/var/lib/mesh-node-agent', '/etc/certs', '-/run/xtables.lock']) assert.ok(rw.includes(path), `ReadWritePaths has ${path}`);
    assert.deepEqual(values('ProtectSystem'), ['strict']);
    assert.ok(values('LimitNOFILE').length === 1);
    assert.deepEqual(values('CapabilityBoundingSet')[0]?.split(' ').sort(), ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETGID']);
    assert.ok(values('SystemCallFilter').join(' ').split(' ').includes('setgroups'), 'the agent joins its capture bypass group; hooks leave it');
    assert.deepEqual(values('MemoryDenyWriteExecute'), [], 'V8 aborts without W+X memory');
  });
});
