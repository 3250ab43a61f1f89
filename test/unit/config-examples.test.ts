import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT } from '../helpers/agent-process.js';

test('examples/seed-000.yaml is valid and says what the seed did by hand', async () => {
  const { config } = await loadConfig({ path: join(REPO_ROOT, 'examples/seed-000.yaml'), mustExist: true });
  assert.equal(config.overlay.subnet, '10.234.3.0/24');
  assert.equal(config.overlay.peers.length, 3);
  assert.deepEqual(config.dns.forward, [{ domain: 'svc.cluster.local', servers: ['192.168.0.62'] }]);
  assert.equal(config.identity.ca.protocol, 'citadel');
});

test('examples/demo config with its cluster.env is valid, and Istio values come from the env file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mna-example-'));
  try {
    for (const name of ['config.yaml', 'cluster.env']) {
      const text = await readFile(join(REPO_ROOT, 'examples/demo', name), 'utf8');
      await writeFile(join(dir, name), text.replaceAll('@DEMO_DIR@', dir));
    }
    const { config, sources } = await loadConfig({ path: join(dir, 'config.yaml'), mustExist: true });
    assert.equal(config.identity.ca.address, '192.168.0.62:15012');
    assert.equal(sources.get('identity.ca.address'), `${dir}/cluster.env:3 (CA_ADDR)`);
    assert.equal(config.identity.spiffe.serviceAccount, 'deb-nginx01');
    assert.deepEqual(config.capture.serviceCIDRs, ['10.233.0.0/16']);
    assert.equal(config.capture.dns, true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('examples/demo/config-kubernetes.yaml is valid: the Kubernetes registry and ServiceEntries from the API', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mna-example-'));
  try {
    for (const [from, to] of [['config-kubernetes.yaml', 'config.yaml'], ['cluster.env', 'cluster.env']] as const) {
      const text = await readFile(join(REPO_ROOT, 'examples/demo', from), 'utf8');
      await writeFile(join(dir, to), text.replaceAll('@DEMO_DIR@', dir));
    }
    const { config } = await loadConfig({ path: join(dir, 'config.yaml'), mustExist: true });
    assert.equal(config.kubernetes.server, 'https://192.168.0.62:6443');
    assert.equal(config.overlay.kubernetes.enabled, true);
    assert.equal(config.overlay.kubernetes.nodeName, 'deb-nginx01');
    assert.deepEqual(config.overlay.etcd.endpoints, []);
    assert.equal(config.dns.serviceEntries.kubernetes, true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
