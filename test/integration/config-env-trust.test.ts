/**
 * Istio's env files across the trust boundary: written by a real unprivileged proxy user (uid
 * 65534 through setpriv) in a directory it owns, as Istio's VM guide leaves /var/lib/istio, or
 * world-writable. check-config and the running agent ignore the values that steer trust (CA
 * address, capture, proxy uid) with a warning naming the file, keep the naming values, and never
 * let such a file make the config invalid. The same files owned by root are honoured.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { cliArgv, REPO_ROOT, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { run, waitFor } from '../helpers/exec.js';
import { identityStatus, waitForNewSerial } from '../helpers/identity-fixture.js';
import { PROXY_UID, mustAsProxy } from '../helpers/proxy-user.js';
import { TestCa } from '../helpers/test-ca.js';

const ID = 'spiffe://cluster.local/ns/vm-ns/sa/vm-sa';
const DEFAULT_CA = 'istiod.istio-system.svc:15012';

void describe('env files the proxy can write', () => {
  let dir = '';
  let envDir = '';
  let clusterEnv = '';
  let sidecarEnv = '';
  let configPath = '';
  let ca: TestCa;
  let agent: AgentHandle | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-tid-env-'));
    await chmod(dir, 0o755);
    envDir = join(dir, 'envoy');
    await mkdir(envDir, { mode: 0o755 });
    await chown(envDir, PROXY_UID, PROXY_UID);
    clusterEnv = join(envDir, 'cluster.env');
    sidecarEnv = join(envDir, 'sidecar.env');
    configPath = join(dir, 'config.yaml');
    await writeFile(configPath, stringify({ istio: { clusterEnv, sidecarEnv }, identity: { enabled: false } }));
    ca = await TestCa.create({ protocol: 'istiod' });
    ca.addToken('token-one', ID);
  });

  after(async () => {
    await agent?.cleanup();
    await ca?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const checkConfig = (...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const [node = '', ...args] = cliArgv('check-config', '--config', configPath, ...extra);
    return run(node, args, { cwd: REPO_ROOT });
  };

  void test('check-config: a proxy-owned and a world-writable file lose their trust-steering values, with a warning naming each', async () => {
    const lines = ['CA_ADDR=proxy-ca.example:15012', 'ISTIO_SERVICE_EXCLUDE_CIDR=0.0.0.0/0', 'PROXY_UID=0', 'SERVICE_ACCOUNT=vm-sa', 'POD_NAMESPACE=vm-ns', 'rm -rf /', 'SECRET_TTL=forever'];
    await mustAsProxy('sh', ['-c', `cat > ${clusterEnv}`], `${lines.join('\n')}\n`);
    await writeFile(sidecarEnv, 'ISTIO_LOCAL_EXCLUDE_PORTS=22,8080\nTRUST_DOMAIN=cluster.local\n');
    await chmod(sidecarEnv, 0o666);

    const r = await checkConfig();
    assert.equal(r.code, 0, `a file the proxy writes cannot make the config invalid:\n${r.stderr}`);
    assert.ok(r.stderr.includes(`warning: ${clusterEnv} is owned by uid ${PROXY_UID}: ignored CA_ADDR (line 1), ISTIO_SERVICE_EXCLUDE_CIDR (line 2), PROXY_UID (line 3)`), r.stderr);
    assert.ok(r.stderr.includes(`Fix: chown root:root ${clusterEnv} && chmod go-w ${clusterEnv}`), r.stderr);
    assert.ok(r.stderr.includes(`warning: ${sidecarEnv} is writable by group and others (mode 0666): ignored ISTIO_LOCAL_EXCLUDE_PORTS (line 1)`), r.stderr);
    assert.ok(r.stderr.includes(`warning: ${clusterEnv}:6:1: (root): expected KEY=VALUE`), r.stderr);
    assert.match(r.stderr, new RegExp(`warning: ${clusterEnv}:7 \\(SECRET_TTL\\): .*ignored, the default is kept`));
    assert.match(r.stdout, new RegExp(`address: ${DEFAULT_CA} # default`));
    assert.match(r.stdout, /serviceExcludeCIDRs: \[\] # default/);
    assert.match(r.stdout, /localExcludePorts: \[.*\] # default/);
    assert.match(r.stdout, /proxyUser: istio-proxy # default/);
    assert.match(r.stdout, /ttl: 24h # default/);
    assert.ok(r.stdout.includes(`serviceAccount: vm-sa # ${clusterEnv}:4 (SERVICE_ACCOUNT)`), 'naming values are still read');
    assert.ok(r.stdout.includes(`trustDomain: cluster.local # ${sidecarEnv}:2 (TRUST_DOMAIN)`));
    const json = JSON.parse((await checkConfig('--json')).stdout) as { warnings: string[] };
    assert.ok(json.warnings.some((w) => w.startsWith(`${clusterEnv} is owned by uid ${PROXY_UID}`)));
  });

  void test('check-config: the same files owned by root are strict and honoured', async () => {
    await chown(clusterEnv, 0, 0);
    await chmod(sidecarEnv, 0o644);
    const strict = await checkConfig();
    assert.equal(strict.code, 1, 'a root-owned file with a bad line is an error');
    assert.ok(strict.stderr.includes(`${clusterEnv}:6:1: (root): expected KEY=VALUE`), strict.stderr);
    await writeFile(clusterEnv, 'CA_ADDR=proxy-ca.example:15012\nISTIO_SERVICE_EXCLUDE_CIDR=10.9.0.0/16\nPROXY_UID=1337\n');
    const ok = await checkConfig();
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stderr, /warning:/);
    assert.ok(ok.stdout.includes(`address: proxy-ca.example:15012 # ${clusterEnv}:1 (CA_ADDR)`), ok.stdout);
    assert.ok(ok.stdout.includes(`localExcludePorts: [ 22, 8080 ] # ${sidecarEnv}:1 (ISTIO_LOCAL_EXCLUDE_PORTS)`), ok.stdout);
  });

  void test('check-config: an env file that is a link is not read', async () => {
    const elsewhere = join(dir, 'elsewhere.env');
    await writeFile(elsewhere, 'CA_ADDR=linked.example:15012\n');
    await rm(clusterEnv);
    await mustAsProxy('ln', ['-s', elsewhere, clusterEnv]);
    const r = await checkConfig();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`warning: ${clusterEnv} is a symbolic link: not read`), r.stderr);
    assert.match(r.stdout, new RegExp(`address: ${DEFAULT_CA} # default`));
    await rm(clusterEnv);
  });

  void test('the running agent ignores a CA_ADDR the proxy wrote, and uses it once root owns the file', async () => {
    await rm(sidecarEnv, { force: true });
    await mustAsProxy('sh', ['-c', `cat > ${clusterEnv}`], `CA_ADDR=${ca.address}\nPOD_NAMESPACE=vm-ns\nSERVICE_ACCOUNT=vm-sa\n`);
    await writeFile(join(dir, 'root.pem'), ca.rootPem, { mode: 0o644 });
    await writeFile(join(dir, 'token'), 'token-one\n', { mode: 0o600 });
    const certDir = join(dir, 'certs');
    await mkdir(join(dir, 'agent'));
    agent = await startAgent({
      dir: join(dir, 'agent'),
      config: {
        istio: { clusterEnv, sidecarEnv },
        identity: { enabled: true, ca: { serverName: 'istiod.istio-system.svc', rootCert: join(dir, 'root.pem'), tokenFile: join(dir, 'token') }, certDir, owner: 'nobody', ttl: '1h' },
      },
    });
    const status = async (): Promise<{ config: { warnings?: string[] }; controllers: { identity: Record<string, unknown> } }> =>
      JSON.parse((await agent!.get('/status')).body) as { config: { warnings?: string[] }; controllers: { identity: Record<string, unknown> } };
    // Running and past its first attempt, which went to the default address, not the proxy's.
    await waitFor('a first failed attempt', async () => {
      const s = await identityStatus(agent!);
      return s.state === 'running' && Number(s.consecutiveFailures) >= 1;
    }, 20_000);
    const first = await status();
    assert.equal(first.controllers.identity.caAddress, DEFAULT_CA);
    assert.equal(first.controllers.identity.spiffeId, ID, 'naming values from the same file are used');
    assert.ok(first.config.warnings?.some((w) => w.startsWith(`${clusterEnv} is owned by uid ${PROXY_UID}: ignored CA_ADDR (line 1)`)));
    assert.ok(agent.logs().includes(`${clusterEnv} is owned by uid ${PROXY_UID}: ignored CA_ADDR (line 1)`));
    assert.equal(ca.requests.length, 0);

    await chown(clusterEnv, 0, 0);
    agent.proc.kill('SIGHUP');
    const installed = await waitForNewSerial(certDir, undefined, 30_000, agent);
    assert.ok(installed.keyMatches);
    assert.equal((await identityStatus(agent)).caAddress, ca.address);
    assert.equal((await status()).config.warnings, undefined);
  });
});
