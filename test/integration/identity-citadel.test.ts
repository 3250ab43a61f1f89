/**
 * The identity controller in the real agent against a TLS gRPC CA speaking legacy Citadel's
 * HandleCSR: adopting certificates provisioned by hand (setupMeshEx.sh style), mTLS renewals with
 * the onprem credential, CA outage, bad answers, and the token after the certificate lapsed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { sleep, waitFor } from '../helpers/exec.js';
import { identityStatus, opensslVerify, readInstalled, waitForNewSerial, type Installed } from '../helpers/identity-fixture.js';
import { provisionWorkload } from '../helpers/pki.js';
import { TestCa } from '../helpers/test-ca.js';

const ID = 'spiffe://cluster.local/ns/default/sa/legacy-vm';

void describe('identity against legacy Citadel (HandleCSR)', () => {
  let dir = '';
  let ca: TestCa;
  let agent: AgentHandle | undefined;
  let config: Record<string, unknown>;
  let certDir = '';
  let tokenFile = '';
  let provisioned = { keyPem: '', chainPem: '' };
  let last: Installed | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-id-citadel-'));
    certDir = join(dir, 'certs');
    tokenFile = join(dir, 'istio-token');
    // Citadel's policy caps lifetimes (its max TTL); here at 14 s so rotations happen within the test
    // (one every ~7 s at graceRatio 0.5), with room for a renewal delayed on a busy machine:
    // at 4 s a renewal delayed by a loaded CI host let the certificate lapse, and mTLS with it.
    ca = await TestCa.create({ protocol: 'citadel', maxTtlMs: 14_000, backdateMs: 120_000 });
    await mkdir(certDir);
    // What setupMeshEx.sh copied out of the istio.<sa> secret: plain files, past their rotation point.
    const now = Date.now();
    const workload = await provisionWorkload(ca.issuer, ID, { notBefore: new Date(now - 50 * 60_000), notAfter: new Date(now + 10 * 60_000) });
    provisioned = { keyPem: workload.keyPem, chainPem: workload.certPem + ca.issuer.certPem };
    await writeFile(join(certDir, 'key.pem'), provisioned.keyPem, { mode: 0o600 });
    await writeFile(join(certDir, 'cert-chain.pem'), provisioned.chainPem);
    await writeFile(join(certDir, 'root-cert.pem'), ca.rootPem);
    config = {
      identity: {
        enabled: true,
        ca: { protocol: 'citadel', address: ca.address, serverName: '', rootCert: join(certDir, 'root-cert.pem'), tokenFile, clusterId: 'Kubernetes' },
        spiffe: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'legacy-vm' },
        certDir,
        owner: 'no-such-user-mna',
        ttl: '1m',
        graceRatio: 0.5,
        graceJitter: 0,
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

  void test('adopts the provisioned files and renews over mTLS with the onprem credential', async () => {
    assert.ok(agent);
    const first = await waitForNewSerial(certDir, new X509Certificate(provisioned.chainPem).serialNumber, 20_000, agent);
    assert.ok(first.keyMatches);
    assert.deepEqual(first.uris, [ID]);
    const request = ca.requests[0];
    assert.ok(request);
    assert.equal(request.method, 'HandleCSR');
    assert.equal(request.auth, 'mtls');
    assert.equal(request.credentialType, 'onprem');
    assert.equal(request.credentialPem?.replace(/\r\n/g, '\n'), provisioned.chainPem.replace(/\r\n/g, '\n'), 'the current chain is the credential');
    assert.equal(request.ttlMinutes, 1);
    // The plain files became links into the generation directory.
    assert.ok((await lstat(join(certDir, 'key.pem'))).isSymbolicLink());
    assert.ok((await lstat(join(certDir, 'cert-chain.pem'))).isSymbolicLink());
    assert.equal(first.rootPem, ca.rootPem, 'root-cert.pem left as provisioned');
    const verify = await opensslVerify(certDir);
    assert.ok(verify.ok, verify.output);
    await agent.waitReady(5000);
    assert.match(agent.logs(), /identity.owner is not a known user/);
    last = first;
  });

  void test('rotates repeatedly with short lifetimes, every renewal over mTLS', async () => {
    let current = last;
    const before = ca.requests.length;
    for (let i = 0; i < 3; i += 1) {
      current = await waitForNewSerial(certDir, current?.serial, 20_000, agent);
      assert.ok(current.keyMatches);
    }
    const renewals = ca.requests.slice(before);
    assert.ok(renewals.length >= 3);
    for (const r of renewals) {
      assert.equal(r.auth, 'mtls');
      assert.equal(r.credentialType, 'onprem');
    }
    last = current;
  });

  void test('CA down: the old certificate stays; the agent rotates once the CA is back', async () => {
    assert.ok(agent);
    // A token as safety net: should the 14 s certificate lapse during the outage on a slow machine,
    // the agent can still authenticate once the CA is back.
    ca.addToken('legacy-token', ID);
    await writeFile(tokenFile, 'legacy-token\n');
    await ca.stop();
    const held = await readInstalled(certDir);
    assert.ok(held);
    await waitFor('a failure', async () => ((await identityStatus(agent as AgentHandle)).consecutiveFailures as number) >= 1, 15_000);
    const during = await readInstalled(certDir);
    assert.equal(during?.serial, held.serial);
    assert.equal(during?.keyPem, held.keyPem);
    await ca.start();
    last = await waitForNewSerial(certDir, held.serial, 30_000, agent);
    assert.ok(last.keyMatches);
  });

  void test('garbage and foreign-identity answers are rejected, the old certificate kept', async () => {
    assert.ok(agent);
    for (const behaviour of ['garbage', 'other-identity'] as const) {
      const held = await readInstalled(certDir);
      assert.ok(held);
      ca.behaviour = behaviour;
      const seen = ca.requests.length;
      await waitFor(`a rejected ${behaviour} answer`, async () => ca.requests.length > seen && ((await identityStatus(agent as AgentHandle)).consecutiveFailures as number) >= 1, 20_000);
      const during = await readInstalled(certDir);
      assert.equal(during?.serial, held.serial);
      assert.equal(during?.keyPem, held.keyPem);
      ca.behaviour = 'normal';
      last = await waitForNewSerial(certDir, held.serial, 20_000, agent);
      assert.deepEqual(last.uris, [ID]);
    }
  });

  void test('with the certificate expired, a bearer token gets a new one', async () => {
    assert.ok(agent);
    await agent.stop('SIGTERM');
    const held = await readInstalled(certDir);
    assert.ok(held);
    await waitFor('certificate expiry', () => Date.now() > Date.parse(held.leaf.validTo) + 200, 20_000);
    await sleep(100);
    const seen = ca.requests.length;
    agent = await startAgent({ config, dir: join(dir, 'agent') });
    const renewed = await waitForNewSerial(certDir, held.serial, 20_000, agent);
    assert.ok(renewed.keyMatches);
    const first = ca.requests[seen];
    assert.ok(first);
    assert.equal(first.auth, 'token');
    assert.equal(first.clientCertPresented, false);
    assert.equal(first.credentialPem, '', 'no expired chain offered as credential');
  });
});
