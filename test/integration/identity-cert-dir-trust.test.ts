/**
 * The certDir boundary, attacked by a real unprivileged proxy user (uid 65534 through setpriv) in a
 * certDir it owns, as Istio's VM guide leaves /etc/certs: links to a root-only file under every
 * name the agent uses, a generation-directory link, and a rewritten root-cert.pem naming a CA the
 * proxy controls. The agent runs under the unit's umask (077) against real TLS gRPC CAs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { identityStatus, opensslVerify, waitForNewSerial } from '../helpers/identity-fixture.js';
import { PROXY_UID, asProxy, atimeRevealsReads, markUnread, mustAsProxy } from '../helpers/proxy-user.js';
import { TestCa } from '../helpers/test-ca.js';

const ID = 'spiffe://cluster.local/ns/vm-ns/sa/vm-sa';

/** Every regular file under `dir`, found without following any link. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await lstat(path);
    if (st.isDirectory()) out.push(...(await filesUnder(path)));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

void describe('identity.certDir planted by the proxy user', () => {
  let dir = '';
  let certDir = '';
  let secret = '';
  let secretAtime = 0;
  let atimeWorks = false;
  let marker = '';
  let good: TestCa;
  let evil: TestCa;
  let agent: AgentHandle | undefined;
  let config: Record<string, unknown>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-tid-certdir-'));
    await chmod(dir, 0o755);
    certDir = join(dir, 'certs');
    good = await TestCa.create({ protocol: 'istiod' });
    evil = await TestCa.create({ protocol: 'istiod', name: 'Proxy' });
    good.addToken('token-one', ID);
    evil.addToken('token-one', ID);
    // A root-only file, like /etc/shadow, and a root-only directory of "certificates".
    marker = `MNA-SECRET-${process.pid}-${Date.now()}`;
    await mkdir(join(dir, 'root-only'), { mode: 0o700 });
    secret = join(dir, 'root-only', 'shadow');
    await writeFile(secret, `-----BEGIN RSA PRIVATE KEY-----\n${marker}\n-----END RSA PRIVATE KEY-----\n`, { mode: 0o600 });
    for (const name of ['key.pem', 'cert-chain.pem']) await writeFile(join(dir, 'root-only', name), `${marker}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'mesh-root.pem'), good.rootPem, { mode: 0o644 });
    await writeFile(join(dir, 'istio-token'), 'token-one\n', { mode: 0o600 });

    // Istio's guide: chown -R istio-proxy /etc/certs. From here on the proxy acts alone.
    await mkdir(certDir, { mode: 0o755 });
    await chmod(certDir, 0o775);
    await chown(certDir, PROXY_UID, PROXY_UID);
    for (const name of ['key.pem', 'cert-chain.pem', 'meta.json']) await mustAsProxy('ln', ['-s', secret, join(certDir, name)]);
    await mustAsProxy('ln', ['-s', join(dir, 'root-only'), join(certDir, '..gen-aaaa-bbbbbb')]);
    await mustAsProxy('ln', ['-s', '..gen-aaaa-bbbbbb', join(certDir, '..data')]);
    // The proxy's own root in root-cert.pem: it would make the agent trust the proxy's CA.
    await mustAsProxy('sh', ['-c', `cat > ${join(certDir, 'root-cert.pem')}`], evil.rootPem);

    atimeWorks = await atimeRevealsReads(dir);
    secretAtime = await markUnread(secret);
    config = {
      identity: {
        enabled: true,
        // The proxy also steered the CA address (say, through /etc/hosts): only a root the
        // proxy chose would let this connection through.
        ca: { protocol: 'istiod', address: evil.address, serverName: 'istiod.istio-system.svc', rootCert: join(dir, 'mesh-root.pem'), tokenFile: join(dir, 'istio-token') },
        spiffe: { trustDomain: 'cluster.local', namespace: 'vm-ns', serviceAccount: 'vm-sa' },
        certDir,
        owner: 'nobody',
        ttl: '1h',
      },
    };
    await mkdir(join(dir, 'agent'));
    agent = await startAgent({ config, dir: join(dir, 'agent'), umask: '077' });
  });

  after(async () => {
    await agent?.cleanup();
    await good?.stop();
    await evil?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  void test('certDir is taken back: root-owned, not writable by the proxy, and logged', async () => {
    assert.ok(agent);
    const status = await waitFor('identity findings in /status', async () => {
      const s = await identityStatus(agent!);
      return Array.isArray(s.certDirFindings) ? s : undefined;
    }, 20_000);
    const st = await stat(certDir);
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o022, 0, 'no group/other write');
    assert.match(agent.logs(), /identity\.certDir \S+ was owned by uid 65534; made root-owned, mode 0755/);
    assert.equal(status.certificate, 'missing', 'nothing planted was taken for a certificate');
    const denied = await asProxy('ln', ['-s', secret, join(certDir, 'late-link')]);
    assert.notEqual(denied.code, 0, 'the proxy can no longer plant anything');
  });

  void test('every planted link is moved aside and reported, never read through', async () => {
    assert.ok(agent);
    const status = await identityStatus(agent);
    const findings = status.certDirFindings as { entry: string; problem: string; action: string }[];
    for (const name of ['key.pem', 'cert-chain.pem', 'meta.json', '..data', '..gen-aaaa-bbbbbb']) {
      const finding = findings.find((f) => f.entry === name);
      assert.ok(finding, `${name} reported in /status: ${JSON.stringify(findings)}`);
      assert.match(finding.action, /^moved aside to \.\.foreign-/);
      assert.match(finding.problem, /symbolic link/);
      assert.ok(agent.logs().includes(`identity.certDir: ${name} is a symbolic link`), `${name} logged`);
    }
    const root = findings.find((f) => f.entry === 'root-cert.pem');
    assert.match(root?.action ?? '', /not trusted/);
    const names = await readdir(certDir);
    assert.equal(names.filter((n) => n.startsWith('..foreign-')).length, 5);
    if (atimeWorks) assert.equal((await stat(secret)).atimeMs, secretAtime, 'the root-only file was never read');
  });

  void test('a root-cert.pem the proxy rewrote is never trusted for the CA connection', async () => {
    assert.ok(agent);
    const status = await waitFor('two failed attempts', async () => {
      const s = await identityStatus(agent!);
      return Number(s.consecutiveFailures) >= 2 ? s : undefined;
    }, 20_000);
    assert.ok(status.lastError !== undefined);
    assert.equal(evil.requests.length, 0, "the proxy's CA never got a call, so never the token");
  });

  void test('with the real CA the key is readable by the proxy under umask 077; only the key is the proxy\'s', async () => {
    assert.ok(agent);
    await agent.writeConfig({ ...config, identity: { ...(config.identity as object), ca: { ...((config.identity as { ca: object }).ca), address: good.address } } });
    agent.proc.kill('SIGHUP');
    const installed = await waitForNewSerial(certDir, undefined, 20_000, agent);
    assert.ok(installed.keyMatches);
    assert.ok((await opensslVerify(certDir)).ok);
    assert.equal(installed.rootPem.trim(), good.rootPem.replace(/\r\n/g, '\n').trim(), "the proxy's root-cert.pem was replaced by the CA's");
    assert.equal(await mustAsProxy('cat', [join(certDir, 'key.pem')]), installed.keyPem, 'the proxy reads its key');
    const gen = (await readdir(certDir)).find((n) => /^\.\.gen-[0-9a-z]+-[0-9a-f]{6}$/.test(n));
    assert.ok(gen);
    const expect = async (path: string, uid: number, mode: number): Promise<void> => {
      const st = await stat(path);
      assert.deepEqual({ path, uid: st.uid, mode: st.mode & 0o7777 }, { path, uid, mode });
    };
    await expect(join(certDir, gen), 0, 0o755);
    await expect(join(certDir, gen, 'key.pem'), PROXY_UID, 0o640);
    await expect(join(certDir, gen, 'cert-chain.pem'), 0, 0o644);
    await expect(join(certDir, gen, 'meta.json'), 0, 0o644);
    await expect(join(certDir, 'root-cert.pem'), 0, 0o644);
    for (const link of ['key.pem', 'cert-chain.pem', '..data']) assert.equal((await lstat(join(certDir, link))).uid, 0);
    const rewrite = await asProxy('sh', ['-c', `cat > ${join(certDir, 'root-cert.pem')}`], evil.rootPem);
    assert.notEqual(rewrite.code, 0, 'the proxy cannot rewrite root-cert.pem any more');
  });

  void test("the root-only file's bytes are nowhere in certDir, the logs or /status", async () => {
    assert.ok(agent);
    for (const file of await filesUnder(certDir)) {
      assert.ok(!(await readFile(file, 'utf8')).includes(marker), `${file} holds the secret`);
    }
    assert.ok(!agent.logs().includes(marker));
    assert.ok(!(await agent.get('/status')).body.includes(marker));
    if (atimeWorks) assert.equal((await stat(secret)).atimeMs, secretAtime, 'the root-only file was never read');
  });
});
