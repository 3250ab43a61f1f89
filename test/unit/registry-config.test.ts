import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRegistry } from '../../src/registry/etcd-config.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const base = { enabled: true, subnet: '', etcd: { endpoints: ['http://10.0.0.1:2379'], register: true, tls: { ca: '', cert: '', key: '' } } };

test('registry config checks', () => {
  assert.deepEqual(checkRegistry(base), []);
  assert.deepEqual(checkRegistry({ ...base, etcd: { ...base.etcd, endpoints: [] } }), []);
  assert.match(checkRegistry({ ...base, etcd: { ...base.etcd, register: false } })[0]?.message ?? '', /required when overlay.etcd.register is false/);
  assert.deepEqual(checkRegistry({ ...base, etcd: { ...base.etcd, register: false } })[0]?.path, ['overlay', 'subnet']);
  const tls = checkRegistry({ ...base, etcd: { ...base.etcd, endpoints: ['https://10.0.0.1:2379'], tls: { ca: '', cert: '/c.pem', key: '' } } });
  assert.deepEqual(tls.map((i) => i.path.join('.')), ['overlay.etcd.tls.key', 'overlay.etcd.tls.ca']);
  assert.match(checkRegistry({ ...base, etcd: { ...base.etcd, endpoints: ['unix:///run/etcd.sock'] } })[0]?.message ?? '', /use http:\/\/ or https:\/\//);
});

test('check-config reports registry problems at their file position', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mna-rgcfg-'));
  try {
    const path = join(dir, 'config.yaml');
    await writeFile(path, ['overlay:', '  enabled: true', '  etcd:', '    endpoints: [https://10.0.0.1:2379]', '    register: false', ''].join('\n'));
    await assert.rejects(loadConfig({ path, mustExist: true }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const keys = err.issues.map((i) => i.key);
      assert.ok(keys.includes('overlay.subnet'), keys.join());
      assert.ok(keys.includes('overlay.etcd.tls.ca'), keys.join());
      assert.match(err.message, /config\.yaml:\d+:\d+: overlay\.etcd\.tls\.ca: required for TLS/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('check-config warns on a plaintext etcd endpoint, naming where it came from, and not on https', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mna-rgcfg-'));
  try {
    const path = join(dir, 'config.yaml');
    const write = (endpoint: string): Promise<void> =>
      writeFile(path, ['overlay:', '  enabled: true', '  subnet: 10.234.9.0/24', '  etcd:', `    endpoints: [${endpoint}]`, '    tls: { ca: /etc/ssl/etcd-ca.pem }', ''].join('\n'));
    await write('http://10.0.0.1:2379');
    const plain = await loadConfig({ path, mustExist: true });
    assert.equal(plain.warnings.length, 1, plain.warnings.join('\n'));
    assert.match(plain.warnings[0] ?? '', /config\.yaml:5:\d+: overlay\.etcd\.endpoints\.0: http:\/\/10\.0\.0\.1:2379 is plaintext/);
    await write('https://10.0.0.1:2379');
    assert.deepEqual((await loadConfig({ path, mustExist: true })).warnings, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
