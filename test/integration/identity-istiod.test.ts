/**
 * The identity controller in the real agent against a TLS gRPC CA speaking istiod's protocol:
 * token first, mTLS renewals, CA outage, bad answers, root rotation, token fallback after expiry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { identityStatus, opensslVerify, readInstalled, waitForNewSerial, type Installed } from '../helpers/identity-fixture.js';
import { OTHER_IDENTITY, TestCa } from '../helpers/test-ca.js';

const ID = 'spiffe://cluster.local/ns/vm-ns/sa/vm-sa';

void describe('identity against istiod (CreateCertificate)', () => {
  let dir = '';
  let ca: TestCa;
  let agent: AgentHandle | undefined;
  let config: Record<string, unknown>;
  let certDir = '';
  let tokenFile = '';
  let last: Installed | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-id-istiod-'));
    certDir = join(dir, 'certs');
    tokenFile = join(dir, 'istio-token');
    ca = await TestCa.create({ protocol: 'istiod', backdateMs: 120_000 });
    ca.addToken('token-one', ID);
    await writeFile(join(dir, 'mesh-root.pem'), ca.rootPem);
    await writeFile(tokenFile, 'token-one\n');
    config = {
      identity: {
        enabled: true,
        ca: { protocol: 'istiod', address: ca.address, serverName: 'istiod.istio-system.svc', rootCert: join(dir, 'mesh-root.pem'), tokenFile, clusterId: 'cluster-a' },
        spiffe: { trustDomain: 'cluster.local', namespace: 'vm-ns', serviceAccount: 'vm-sa' },
        certDir,
        owner: 'nobody',
        // Rotations every ~5 s; long enough that a renewal delayed on a loaded CI host does not let the
        // certificate lapse while the token is withdrawn (at 4 s it could).
        ttl: '10s',
        graceRatio: 0.5,
        graceJitter: 0,
        onRotate: `echo rotated >> ${join(dir, 'hook.log')}`,
      },
    };
    await mkdir(join(dir, 'agent'));
    agent = await startAgent({ config, dir: join(dir, 'agent') });
  });

  after(async () => {
    await agent?.cleanup();
    await ca?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  void test('first issue authenticates with the bearer token and installs a verifiable chain', async () => {
    assert.ok(agent);
    await agent.waitReady(20_000);
    const first = ca.requests[0];
    assert.ok(first, 'the CA saw a request');
    assert.equal(first.method, 'CreateCertificate');
    assert.equal(first.auth, 'token');
    assert.equal(first.clientCertPresented, false);
    assert.equal(first.clusterId, 'cluster-a');
    assert.equal(first.validityDuration, 10);
    assert.equal(first.certSigner, '');

    const installed = await readInstalled(certDir);
    assert.ok(installed);
    assert.ok(installed.keyMatches, 'key.pem belongs to the leaf');
    assert.deepEqual(installed.uris, [ID]);
    assert.equal(installed.rootPem.trim(), ca.rootPem.replace(/\r\n/g, '\n').trim(), 'root-cert.pem is the CA root');
    const keyStat = await stat(join(certDir, 'key.pem'));
    // owner:root 0640: the proxy reads it as owner, the capability-less agent through group root.
    assert.equal(keyStat.mode & 0o777, 0o640);
    assert.equal(keyStat.uid, 65534, 'chowned to identity.owner (nobody)');
    assert.equal(keyStat.gid, 0);
    const verify = await opensslVerify(certDir);
    assert.ok(verify.ok, verify.output);

    const status = await identityStatus(agent);
    assert.equal(status.spiffeId, ID);
    assert.equal(status.certificate, 'valid');
    assert.equal(typeof status.serial, 'string');
    assert.ok(typeof status.notAfter === 'string' && typeof status.notBefore === 'string' && typeof status.nextRotation === 'string');
    assert.equal(status.consecutiveFailures, 0);
    await waitFor('onRotate ran', async () => (await readFile(join(dir, 'hook.log'), 'utf8').catch(() => '')).includes('rotated'), 5000);
    last = installed;
  });

  void test('renewals authenticate with mTLS alone and use a fresh key each time', async () => {
    assert.ok(agent);
    await unlink(tokenFile);
    const serials = new Set<string>();
    const keys = new Set<string>();
    let current = last;
    const before = ca.requests.length;
    for (let i = 0; i < 3; i += 1) {
      current = await waitForNewSerial(certDir, current?.serial, 20_000, agent);
      assert.ok(current.keyMatches);
      serials.add(current.serial);
      keys.add(current.keyPem);
    }
    assert.equal(serials.size, 3);
    assert.equal(keys.size, 3, 'a new key every rotation');
    const renewals = ca.requests.slice(before).filter((r) => r.issuedSerial !== undefined);
    assert.ok(renewals.length >= 3);
    for (const r of renewals) {
      assert.equal(r.auth, 'mtls');
      assert.equal(r.clientCertPresented, true);
    }
    const metrics = (await agent.get('/metrics')).body;
    assert.match(metrics, /mesh_node_agent_identity_rotations_total\{auth="mtls"\} [1-9]/);
    const expiry = /^mesh_node_agent_identity_cert_expiry_timestamp_seconds ([0-9.e+]+)$/m.exec(metrics);
    assert.ok(expiry, 'the expiry timestamp is exported');
    // A Unix time in seconds around the installed certificate's NotAfter (a few seconds' lifetime here).
    assert.ok(Math.abs(Number(expiry[1]) * 1000 - Date.now()) < 3_600_000, `expiry ${expiry[1]} is not a Unix time near now`);
    last = current;
  });

  void test('while the CA is down the old certificate stays; after it returns the agent rotates', async () => {
    assert.ok(agent);
    // The token is back, so the agent can still authenticate if the 10 s certificate lapses during the outage.
    await writeFile(tokenFile, 'token-one');
    await ca.stop();
    const held = await readInstalled(certDir);
    assert.ok(held);
    const status = await waitFor(
      'failures reported',
      async () => {
        const s = await identityStatus(agent as AgentHandle);
        return (s.consecutiveFailures as number) >= 2 ? s : undefined;
      },
      15_000,
    );
    assert.match(JSON.stringify(status.lastError), /UNAVAILABLE/);
    const during = await readInstalled(certDir);
    assert.equal(during?.serial, held.serial, 'the installed certificate is kept');
    assert.equal(during?.keyPem, held.keyPem);
    // Past NotAfter the files stay (Envoy may still hold connections) but the agent is not ready.
    await waitFor('certificate expiry', () => Date.now() > Date.parse(held.leaf.validTo) + 300, 20_000);
    await waitFor('not ready once expired', async () => (await (agent as AgentHandle).get('/readyz')).status === 503, 5000);
    assert.equal((await identityStatus(agent)).certificate, 'expired');
    assert.equal((await readInstalled(certDir))?.serial, held.serial);
    await ca.start();
    last = await waitForNewSerial(certDir, held.serial, 30_000, agent);
    assert.ok(last.keyMatches);
    await agent.waitReady(5000);
    await waitFor('failures reset', async () => (await identityStatus(agent as AgentHandle)).consecutiveFailures === 0, 5000);
  });

  void test('a garbage answer or a certificate for another identity is rejected and the old one kept', async () => {
    assert.ok(agent);
    for (const behaviour of ['garbage', 'other-identity', 'short-chain'] as const) {
      const held = await readInstalled(certDir);
      assert.ok(held);
      ca.behaviour = behaviour;
      const seen = ca.requests.length;
      const status = await waitFor(
        `a rejected ${behaviour} answer`,
        async () => {
          const s = await identityStatus(agent as AgentHandle);
          return ca.requests.length > seen && (s.consecutiveFailures as number) >= 1 ? s : undefined;
        },
        20_000,
      );
      assert.match(JSON.stringify(status.lastError), behaviour === 'other-identity' ? new RegExp(OTHER_IDENTITY.replace(/[/.]/g, '\\$&')) : /rejected/);
      const during = await readInstalled(certDir);
      assert.equal(during?.serial, held.serial);
      assert.equal(during?.keyPem, held.keyPem);
      ca.behaviour = 'normal';
      last = await waitForNewSerial(certDir, held.serial, 20_000, agent);
      assert.deepEqual(last.uris, [ID]);
    }
  });

  void test('a new root in the answer updates root-cert.pem', async () => {
    await ca.rotateRoot();
    const newRoot = ca.rootPem.replace(/\r\n/g, '\n').trim();
    const installed = await waitFor(
      'root-cert.pem updated',
      async () => {
        // root-cert.pem is written just before the pair switches: wait for both.
        const now = await readInstalled(certDir);
        return now !== undefined && now.rootPem.trim() === newRoot && now.chainPem.trim().endsWith(newRoot) ? now : undefined;
      },
      20_000,
    );
    assert.ok(installed.keyMatches);
    const verify = await opensslVerify(certDir);
    assert.ok(verify.ok, verify.output);
    // And the next renewal still authenticates with the certificate from the new root.
    const next = await waitForNewSerial(certDir, installed.serial, 20_000, agent);
    assert.ok(next.keyMatches);
    assert.equal(ca.requests.at(-1)?.auth, 'mtls');
    last = next;
  });

  void test('after the certificate expired, the token authenticates again (no expired client certificate offered)', async () => {
    assert.ok(agent);
    await agent.stop('SIGTERM');
    const held = await readInstalled(certDir);
    assert.ok(held);
    await waitFor('certificate expiry', () => Date.now() > Date.parse(held.leaf.validTo) + 200, 20_000);
    ca.addToken('token-two', ID);
    await writeFile(tokenFile, 'token-two');
    const seen = ca.requests.length;
    agent = await startAgent({ config, dir: join(dir, 'agent') });
    const renewed = await waitForNewSerial(certDir, held.serial, 20_000, agent);
    assert.ok(renewed.keyMatches);
    const first = ca.requests[seen];
    assert.ok(first);
    assert.equal(first.auth, 'token');
    assert.equal(first.clientCertPresented, false, 'the expired certificate is not presented');
    await agent.waitReady(10_000);
  });

  void test('a reload with another service account re-issues for it (the old certificate is not offered)', async () => {
    assert.ok(agent);
    const newId = 'spiffe://cluster.local/ns/vm-ns/sa/vm-sa-2';
    ca.addToken('token-three', newId);
    await writeFile(tokenFile, 'token-three');
    const held = await readInstalled(certDir);
    const identity = (config.identity as Record<string, unknown>);
    config = { ...config, identity: { ...identity, spiffe: { trustDomain: 'cluster.local', namespace: 'vm-ns', serviceAccount: 'vm-sa-2' } } };
    await agent.writeConfig(config);
    const seen = ca.requests.length;
    agent.proc.kill('SIGHUP');
    const renewed = await waitFor('a certificate for the new identity', async () => {
      const now = await readInstalled(certDir);
      return now !== undefined && now.uris[0] === newId ? now : undefined;
    }, 20_000);
    assert.notEqual(renewed.serial, held?.serial);
    const first = ca.requests.slice(seen).find((r) => r.identity === newId);
    assert.equal(first?.auth, 'token');
    assert.equal((await identityStatus(agent)).spiffeId, newId);
  });
});
