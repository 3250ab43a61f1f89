import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDuration } from '../../src/config/duration.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mna-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** A YAML file pointing the env files into the temp dir, plus `body`. */
async function yamlWith(body: string, name = 'config.yaml'): Promise<string> {
  return write(name, `istio:\n  clusterEnv: ${dir}/cluster.env\n  sidecarEnv: ${dir}/sidecar.env\n${body}`);
}

async function problems(path: string): Promise<string[]> {
  try {
    await loadConfig({ path, mustExist: true });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  assert.fail('expected the config to be rejected');
}

describe('config loading', () => {
  test('defaults fill every key when the default file is absent', async () => {
    const loaded = await loadConfig({ path: join(dir, 'missing.yaml'), mustExist: false });
    assert.equal(loaded.config.status.listen, '127.0.0.1:15030');
    assert.equal(loaded.config.identity.ttl, 24 * 3600 * 1000);
    assert.equal(loaded.config.overlay.resync, 30_000);
    assert.deepEqual(loaded.config.dns.listen, ['127.0.0.1:53']);
    assert.equal(loaded.sources.get('identity.ca.address'), 'default');
  });

  test('an explicitly named file that is missing is an error', async () => {
    const issues = await problems(join(dir, 'nope.yaml'));
    assert.match(issues[0] ?? '', /nope\.yaml:0:0: \(root\): cannot read \(ENOENT\); pass --config PATH/);
  });

  test('type errors, range errors and unknown keys carry file:line:col', async () => {
    const path = await yamlWith(['overlay:', '  vni: 99999999', '  peers:', '    - { subnet: 10.1.0.0/24, publicIP: 1.2.3.4, vtepMAC: "zz" }', 'dns:', '  cache: { size: -1 }', '  lisen: []', 'status:', '  listen: nonsense'].join('\n'), 'bad.yaml');
    const issues = await problems(path);
    // Exact positions: line numbers count the three istio lines at the top.
    assert.ok(issues.includes(`${path}:5:8: overlay.vni: Too big: expected number to be <=16777215`), issues.join('\n'));
    assert.ok(issues.some((l) => l.startsWith(`${path}:7:`) && l.includes('overlay.peers.0.vtepMAC: not a MAC address')), issues.join('\n'));
    assert.ok(issues.includes(`${path}:9:18: dns.cache.size: Too small: expected number to be >=0`), issues.join('\n'));
    assert.ok(issues.includes(`${path}:10:3: dns.lisen: unknown key; check its spelling (docs/config.md lists every key)`), issues.join('\n'));
    assert.ok(issues.includes(`${path}:12:11: status.listen: not HOST:PORT; write e.g. 127.0.0.1:15030 or [::1]:53`), issues.join('\n'));
    assert.equal(issues.length, 5);
  });

  test('YAML syntax errors carry line and column', async () => {
    const path = await yamlWith('overlay:\n  vni: [1\n', 'syntax.yaml');
    const issues = await problems(path);
    assert.match(issues[0] ?? '', new RegExp(`^${path.replace(/[.]/g, '\\.')}:\\d+:\\d+: \\(root\\): `));
  });

  test('an alias without its anchor, or aliases that multiply the document, are errors at the alias', async () => {
    const unresolved = await yamlWith('overlay:\n  network: *net\n', 'alias.yaml');
    assert.deepEqual(await problems(unresolved), [`${unresolved}:5:12: (root): Unresolved alias (the anchor must be set before the alias): net; write the value out instead of the alias`]);
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e']]) rows.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    const bomb = await yamlWith(`${rows.join('\n')}\n`, 'bomb.yaml');
    assert.match((await problems(bomb))[0] ?? '', new RegExp(`^${bomb.replace(/[.]/g, '\\.')}:\\d+:\\d+: \\(root\\): Excessive alias count`));
  });

  test('a reload with the same file and env files gives the running config back; any change is read again', async () => {
    const env = await write('reload-cluster.env', "TRUST_DOMAIN='one.local'\n");
    const yaml = (vni: number): string => `istio:\n  clusterEnv: ${env}\n  sidecarEnv: ""\noverlay:\n  vni: ${vni}\n`;
    const path = await write('reload.yaml', yaml(7));
    const first = await loadConfig({ path, mustExist: true });
    assert.equal(await loadConfig({ path, mustExist: true, previous: first }), first, 'nothing changed: the same object');

    await write('reload.yaml', yaml(8));
    const edited = await loadConfig({ path, mustExist: true, previous: first });
    assert.notEqual(edited, first);
    assert.equal(edited.config.overlay.vni, 8);
    assert.equal(edited.sources.get('overlay.vni'), `${path}:5:8`);

    await write('reload-cluster.env', "TRUST_DOMAIN='two.local'\n");
    const envEdited = await loadConfig({ path, mustExist: true, previous: edited });
    assert.notEqual(envEdited, edited);
    assert.equal(envEdited.config.identity.spiffe.trustDomain, 'two.local');

    // Same bytes, but now writable by others: what the file may steer changes, so it is read again.
    await chmod(env, 0o666);
    const loosened = await loadConfig({ path, mustExist: true, previous: envEdited });
    assert.notEqual(loosened, envEdited);
    assert.match(loosened.warnings.join('\n'), /reload-cluster\.env is .*writable/);
    assert.equal(await loadConfig({ path, mustExist: true, previous: loosened }), loosened);
  });

  test('a non-loopback status or DNS listener needs an explicit opt-in', async () => {
    const path = await yamlWith('status:\n  listen: 10.0.0.5:15030\ndns:\n  listen: [127.0.0.1:53, "192.168.1.1:53"]\n', 'remote.yaml');
    const issues = await problems(path);
    assert.ok(issues.includes(`${path}:5:11: status.listen: not a loopback address; set status.allowRemote: true to expose the status endpoint`), issues.join('\n'));
    assert.ok(issues.some((l) => l.includes('dns.listen.1: not a loopback address; set dns.allowRemote: true')), issues.join('\n'));
    const allowed = await yamlWith('status:\n  listen: 10.0.0.5:15030\n  allowRemote: true\n', 'remote-ok.yaml');
    assert.equal((await loadConfig({ path: allowed, mustExist: true })).config.status.listen, '10.0.0.5:15030');
  });

  test('Istio env files map onto config; YAML wins over env; env wins over defaults', async () => {
    await write('sidecar.env', 'ENVOY_PORT=15009\nISTIO_INBOUND_PORTS=8080\n');
    await write(
      'cluster.env',
      [
        "ISTIO_SERVICE_CIDR='10.96.0.0/12,10.233.0.0/16'",
        'ISTIO_SERVICE_EXCLUDE_CIDR=10.96.0.1/32',
        'ISTIO_INBOUND_PORTS=*',
        'ISTIO_LOCAL_EXCLUDE_PORTS=22,15090,15021',
        'INBOUND_CAPTURE_PORT=15016',
        'ISTIO_META_DNS_CAPTURE=true',
        'TRUST_DOMAIN=example.org',
        'POD_NAMESPACE=vm-ns',
        'SERVICE_ACCOUNT=vm-sa',
        'ISTIO_META_CLUSTER_ID=cluster-7',
        'SECRET_TTL=12h0m0s',
        'SECRET_GRACE_PERIOD_RATIO=0.25',
        'ISTIO_PILOT_PORT=15012',
        'ISTIO_SYSTEM_NAMESPACE=mesh-system',
        'PROXY_UID=1337',
      ].join('\n'),
    );
    const path = await yamlWith('capture:\n  inboundPort: 15106\n', 'env.yaml');
    const { config, sources } = await loadConfig({ path, mustExist: true });
    assert.deepEqual(config.capture.serviceCIDRs, ['10.96.0.0/12', '10.233.0.0/16']);
    assert.deepEqual(config.capture.serviceExcludeCIDRs, ['10.96.0.1/32']);
    assert.equal(config.capture.inboundPorts, '*', 'cluster.env is sourced after sidecar.env');
    assert.deepEqual(config.capture.localExcludePorts, [22, 15090, 15021]);
    assert.equal(config.capture.outboundPort, 15009);
    assert.equal(config.capture.inboundPort, 15106, 'YAML wins over INBOUND_CAPTURE_PORT');
    assert.equal(config.capture.dns, true);
    assert.equal(config.capture.proxyUser, '1337');
    assert.deepEqual(config.identity.spiffe, { trustDomain: 'example.org', namespace: 'vm-ns', serviceAccount: 'vm-sa' });
    assert.equal(config.identity.ca.clusterId, 'cluster-7');
    assert.equal(config.identity.ca.address, 'istiod.mesh-system.svc:15012');
    assert.equal(config.identity.ttl, 12 * 3600 * 1000);
    assert.equal(config.identity.graceRatio, 0.25);
    assert.equal(sources.get('capture.serviceCIDRs'), `${dir}/cluster.env:1 (ISTIO_SERVICE_CIDR)`);
    assert.equal(sources.get('capture.outboundPort'), `${dir}/sidecar.env:1 (ENVOY_PORT)`);
    assert.equal(sources.get('capture.inboundPort'), `${path}:5:16`);
    assert.equal(sources.get('capture.cleanupOnStop'), 'default');
  });

  test('CA_ADDR wins over the derived istiod address', async () => {
    await write('sidecar.env', '');
    await write('cluster.env', 'ISTIO_PILOT_PORT=15012\nCA_ADDR=ca.example:443\n');
    const { config } = await loadConfig({ path: await yamlWith('', 'ca.yaml'), mustExist: true });
    assert.equal(config.identity.ca.address, 'ca.example:443');
  });

  test('a bad env value is reported at its env file line, and an invalid mapped value too', async () => {
    await write('sidecar.env', '');
    await write('cluster.env', '# c\nENVOY_PORT=fifteen\n');
    const issues = await problems(await yamlWith('', 'envbad.yaml'));
    assert.deepEqual(issues, [`${dir}/cluster.env:2:1: ENVOY_PORT: expected a whole number, got "fifteen"`]);
    await write('cluster.env', 'ISTIO_SERVICE_CIDR=10.0.0.0/99\n');
    const mapped = await problems(await yamlWith('', 'envbad2.yaml'));
    assert.deepEqual(mapped, [`${dir}/cluster.env:1:1: capture.serviceCIDRs.0 (ISTIO_SERVICE_CIDR): not a CIDR or "*"`]);
    await write('cluster.env', '');
  });
});

describe('durations', () => {
  test('Go-style durations and bare seconds', () => {
    assert.equal(parseDuration('24h0m0s'), 86_400_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration(2), 2000);
    assert.equal(parseDuration('10 minutes'), undefined);
    assert.equal(parseDuration('h'), undefined);
    assert.equal(parseDuration(''), undefined);
  });
});
