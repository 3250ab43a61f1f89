/**
 * What the identity controller refuses rather than trusts, in the real agent against a real TLS
 * gRPC CA: a certDir it cannot make root's, and an identity.ca.rootCert someone other than root
 * could have written (owned by the proxy user, group-writable, a link). The CA must never see a
 * call while the root is refused; once fixed, the same agent gets its certificate.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { identityStatus, waitForNewSerial } from '../helpers/identity-fixture.js';
import { PROXY_UID } from '../helpers/proxy-user.js';
import { TestCa } from '../helpers/test-ca.js';

const ID = 'spiffe://cluster.local/ns/vm-ns/sa/vm-sa';

void describe('identity refuses what it cannot trust', () => {
  let dir = '';
  let ca: TestCa;
  const agents: AgentHandle[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-tid-refuse-'));
    await chmod(dir, 0o755);
    ca = await TestCa.create({ protocol: 'istiod' });
    ca.addToken('token-one', ID);
    await writeFile(join(dir, 'istio-token'), 'token-one\n', { mode: 0o600 });
  });

  after(async () => {
    for (const agent of agents) await agent.cleanup();
    await ca?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const identity = (name: string, certDir: string, rootCert: string): Record<string, unknown> => ({
    identity: {
      enabled: true,
      ca: { protocol: 'istiod', address: ca.address, serverName: 'istiod.istio-system.svc', rootCert, tokenFile: join(dir, 'istio-token') },
      spiffe: { trustDomain: 'cluster.local', namespace: 'vm-ns', serviceAccount: 'vm-sa' },
      certDir,
      owner: 'nobody',
      ttl: '1h',
    },
    stateDir: join(dir, name, 'state'),
  });

  const start = async (name: string, certDir: string, rootCert: string, wrap?: string[]): Promise<AgentHandle> => {
    await mkdir(join(dir, name));
    const agent = await startAgent({ config: identity(name, certDir, rootCert), dir: join(dir, name), ...(wrap === undefined ? {} : { wrap }) });
    agents.push(agent);
    return agent;
  };

  /** Polls the identity status; an agent that exited fails at once, with its output. */
  const poll = <T>(agent: AgentHandle, what: string, check: (s: Record<string, unknown>) => T | undefined): Promise<T> =>
    waitFor(what, async () => {
      if (agent.proc.exitCode !== null) throw new Error(`agent exited ${agent.proc.exitCode}:\n${agent.logs().slice(-2000)}`);
      return check(await identityStatus(agent));
    }, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\nagent logs:\n${agent.logs().slice(-2000)}`, { cause: err });
    });

  const failedStart = (agent: AgentHandle): Promise<string> =>
    poll(agent, 'the identity controller to fail', (s) => (s.state === 'failed' ? String((s.lastError as { message?: string } | undefined)?.message) : undefined));

  void test('a proxy-owned certDir the agent cannot chown (no CAP_CHOWN) is refused, naming path and fix', async () => {
    await writeFile(join(dir, 'root-a.pem'), ca.rootPem, { mode: 0o644 });
    const certDir = join(dir, 'certs-a');
    await mkdir(certDir, { mode: 0o755 });
    await chown(certDir, PROXY_UID, PROXY_UID);
    const agent = await start('a', certDir, join(dir, 'root-a.pem'), ['setpriv', '--bounding-set=-all', '--inh-caps=-all', '--']);
    const message = await failedStart(agent);
    assert.ok(message.includes(`identity.certDir ${certDir} is owned by uid ${PROXY_UID}`), message);
    assert.ok(message.includes(`Fix: chown root ${certDir} && chmod go-w ${certDir}`), message);
    assert.deepEqual(await readdir(certDir), [], 'nothing written into it');
    assert.equal(ca.requests.length, 0);
    assert.match(agent.logs(), /MNA_CERT_DIR_UNSAFE/);
  });

  void test('a certDir in a directory the proxy owns is refused: the proxy could swap it', async () => {
    await writeFile(join(dir, 'root-b.pem'), ca.rootPem, { mode: 0o644 });
    const parent = join(dir, 'proxy-home');
    await mkdir(parent, { mode: 0o755 });
    await chown(parent, PROXY_UID, PROXY_UID);
    const agent = await start('b', join(parent, 'certs'), join(dir, 'root-b.pem'));
    const message = await failedStart(agent);
    assert.ok(message.includes(`its directory ${parent} is owned by uid ${PROXY_UID}, so another user could replace it`), message);
    assert.ok(message.includes(`Fix: chown root ${parent} && chmod go-w ${parent}`), message);
    assert.deepEqual(await readdir(parent), []);
    assert.equal(ca.requests.length, 0);
  });

  void test('identity.ca.rootCert owned by the proxy, group-writable or a link is refused; once root-only it is used', async () => {
    const root = join(dir, 'root-c.pem');
    await writeFile(root, ca.rootPem, { mode: 0o644 });
    await chown(root, PROXY_UID, PROXY_UID);
    const certDir = join(dir, 'certs-c');
    const agent = await start('c', certDir, root);
    const lastError = (pattern: RegExp): Promise<string> =>
      poll(agent, `lastError matching ${pattern}`, (s) => {
        const message = String(((s.lastError ?? {}) as { message?: string }).message);
        return pattern.test(message) ? message : undefined;
      });
    const owned = await lastError(/owned by uid 65534/);
    assert.ok(owned.includes(`identity.ca.rootCert ${root} is owned by uid ${PROXY_UID}: not trusted for the CA connection`), owned);
    assert.ok(owned.includes(`Fix: check that it holds the mesh root, then: chown root:root ${root} && chmod 644 ${root}`), owned);
    assert.match(agent.logs(), /identity\.ca\.rootCert is refused/);

    await chown(root, 0, 0);
    await chmod(root, 0o664);
    await lastError(/is writable by group \(mode 0664\)/);

    await chmod(root, 0o644);
    const linked = join(dir, 'root-link.pem');
    await symlink(root, linked);
    await agent.writeConfig(identity('c', certDir, linked));
    agent.proc.kill('SIGHUP');
    await lastError(/root-link\.pem is a symbolic link: not trusted/);
    assert.equal(ca.requests.length, 0, 'no call while the root is refused: the token never left');
    assert.match((await agent.get('/metrics')).body, /mesh_node_agent_identity_rotation_failures_total\{reason="ca_root_unsafe"\} [1-9]/);

    await agent.writeConfig(identity('c', certDir, root));
    agent.proc.kill('SIGHUP');
    const installed = await waitForNewSerial(certDir, undefined, 30_000, agent);
    assert.ok(installed.keyMatches);
    assert.equal(ca.requests.length, 1);
  });
});
