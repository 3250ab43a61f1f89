import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

async function load(yaml: string): Promise<unknown> {
  const dir = await mkdtemp(join(tmpdir(), 'mna-dns-cfg-'));
  try {
    const path = join(dir, 'config.yaml');
    await writeFile(path, `istio: { clusterEnv: "", sidecarEnv: "" }\n${yaml}`);
    return await loadConfig({ path, mustExist: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void describe('dns config', () => {
  void test('a non-loopback listen address is refused unless dns.allowRemote (no open resolver)', async () => {
    await assert.rejects(load('dns:\n  enabled: true\n  listen: [127.0.0.1:53, 10.0.0.5:53]\n'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /dns\.listen\.1: not a loopback address; set dns\.allowRemote: true/);
      return true;
    });
    await load('dns:\n  enabled: true\n  allowRemote: true\n  listen: [10.0.0.5:53]\n');
    await load('dns:\n  enabled: true\n  listen: ["[::1]:53", 127.0.0.53:53]\n');
  });
});
