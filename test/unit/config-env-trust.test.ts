/** The env-file trust rule: which variables steer trust, and loadConfig with files root did not write. */
import assert from 'node:assert/strict';
import { chmod, chown, link, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyTrustRule } from '../../src/config/env-files.js';
import { parseEnvFile } from '../../src/config/env-file.js';
import { MAPPED_ENV_KEYS, TRUST_STEERING_KEYS } from '../../src/config/istio-env.js';
import { loadConfig } from '../../src/config/load.js';
import { NEEDS_ROOT } from '../helpers/needs-root.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mna-env-trust-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(cluster: string, sidecar: string, prepare: (paths: { cluster: string; sidecar: string }) => Promise<void>) {
  const paths = { cluster: join(dir, 'cluster.env'), sidecar: join(dir, 'sidecar.env') };
  await rm(paths.cluster, { force: true });
  await rm(paths.sidecar, { force: true });
  await writeFile(paths.cluster, cluster, { mode: 0o644 });
  await writeFile(paths.sidecar, sidecar, { mode: 0o644 });
  await prepare(paths);
  const config = join(dir, 'config.yaml');
  await writeFile(config, `istio:\n  clusterEnv: ${paths.cluster}\n  sidecarEnv: ${paths.sidecar}\n`);
  return { loaded: await loadConfig({ path: config, mustExist: true }), ...paths };
}

describe('env-file trust rule', () => {
  test('the variables that steer trust: the CA address and everything that decides what capture lets through', () => {
    assert.deepEqual([...TRUST_STEERING_KEYS].sort(), [
      'CA_ADDR', 'ENVOY_PORT', 'INBOUND_CAPTURE_PORT', 'ISTIO_INBOUND_PORTS', 'ISTIO_LOCAL_EXCLUDE_PORTS', 'ISTIO_META_DNS_CAPTURE',
      'ISTIO_PILOT_PORT', 'ISTIO_SERVICE_CIDR', 'ISTIO_SERVICE_EXCLUDE_CIDR', 'ISTIO_SYSTEM_NAMESPACE', 'PROXY_UID',
    ]);
    const naming = MAPPED_ENV_KEYS.filter((k) => !TRUST_STEERING_KEYS.has(k)).sort();
    assert.deepEqual(naming, ['ISTIO_META_CLUSTER_ID', 'POD_NAMESPACE', 'SECRET_GRACE_PERIOD_RATIO', 'SECRET_TTL', 'SERVICE_ACCOUNT', 'TRUST_DOMAIN']);
  });

  test('applyTrustRule keeps the naming values and names every ignored one with its line', () => {
    const entries = parseEnvFile('CA_ADDR=x:1\nSERVICE_ACCOUNT=sa\nPROXY_UID=0\n', '/f/cluster.env');
    const { kept, warning } = applyTrustRule('/f/cluster.env', 'owned by uid 999', entries);
    assert.deepEqual(kept.map((e) => e.key), ['SERVICE_ACCOUNT']);
    assert.match(warning, /^\/f\/cluster\.env is owned by uid 999: ignored CA_ADDR \(line 1\), PROXY_UID \(line 3\); /);
    assert.match(warning, /Fix: chown root:root \/f\/cluster\.env && chmod go-w \/f\/cluster\.env, or set these values in config\.yaml$/);
  });

  test('a proxy-owned cluster.env cannot override a root-owned sidecar.env, nor invalidate the config', { skip: NEEDS_ROOT }, async () => {
    const { loaded, cluster } = await load(
      'CA_ADDR=proxy.example:15012\nISTIO_PILOT_PORT=1\nSERVICE_ACCOUNT=vm-sa\nnot an assignment\nSECRET_GRACE_PERIOD_RATIO=7\nENVOY_PORT=abc\n',
      'CA_ADDR=istiod.root.svc:15012\n',
      async (p) => chown(p.cluster, 65534, 65534),
    );
    assert.equal(loaded.config.identity.ca.address, 'istiod.root.svc:15012');
    assert.equal(loaded.config.identity.spiffe.serviceAccount, 'vm-sa');
    assert.equal(loaded.config.identity.graceRatio, 0.5, 'an invalid value from it is dropped, the default kept');
    assert.equal(loaded.sources.get('identity.graceRatio'), 'default');
    const text = loaded.warnings.join('\n');
    assert.ok(text.includes(`${cluster} is owned by uid 65534: ignored CA_ADDR (line 1), ISTIO_PILOT_PORT (line 2), ENVOY_PORT (line 6)`), text);
    assert.ok(text.includes(`${cluster}:4:1: (root): expected KEY=VALUE`), text);
    assert.ok(text.includes(`${cluster}:5 (SECRET_GRACE_PERIOD_RATIO): `), text);
    assert.deepEqual(loaded.envFiles, [join(dir, 'sidecar.env'), cluster]);
  });

  test('a world-writable file is untrusted; a hard-linked one is not read at all', async () => {
    const ww = await load('', 'ISTIO_LOCAL_EXCLUDE_PORTS=22\n', async (p) => chmod(p.sidecar, 0o666));
    assert.deepEqual(ww.loaded.config.capture.localExcludePorts, (await load('', '', async () => {})).loaded.config.capture.localExcludePorts);
    assert.match(ww.loaded.warnings.join('\n'), /sidecar\.env is writable by group and others \(mode 0666\): ignored ISTIO_LOCAL_EXCLUDE_PORTS \(line 1\)/);
    const hard = await load('CA_ADDR=a:1\n', '', async (p) => link(p.cluster, join(dir, 'second-name.env')));
    assert.equal(hard.loaded.config.identity.ca.address, 'istiod.istio-system.svc:15012');
    assert.match(hard.loaded.warnings.join('\n'), /cluster\.env has 2 hard links: not read/);
    await rm(join(dir, 'second-name.env'));
  });

  test('root-owned files are read as before', async () => {
    const { loaded } = await load('CA_ADDR=a.example:15012\nPROXY_UID=1337\n', '', async () => {});
    assert.equal(loaded.config.identity.ca.address, 'a.example:15012');
    assert.equal(loaded.config.capture.proxyUser, '1337');
    assert.deepEqual(loaded.warnings, []);
  });
});
