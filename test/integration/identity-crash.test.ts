/**
 * kill -9 at random moments while the agent rotates as fast as it can (1 s certificates renewed
 * 99 % early): after every kill, before any restart or repair, the installed key must belong to
 * the installed leaf and every file must parse. The agent runs as an esbuild bundle of src/main.ts
 * (starts in a fraction of tsx's time, and proves the .proto files are found from a bundle).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { testPort } from '../helpers/ports.js';
import { sleep, waitFor } from '../helpers/exec.js';
import { readInstalled } from '../helpers/identity-fixture.js';
import { TestCa } from '../helpers/test-ca.js';

const ID = 'spiffe://cluster.local/ns/default/sa/crash';
const TARGET_ROTATIONS = 200;
const MIN_KILLS = 20;
// 200 rotations cost about a CPU-minute (RSA key generation dominates, plus ~45 agent starts): about
// 60 s on two cores at load average ~8. The loop ends at 200 rotations; this cap only guards against a
// hang on a machine saturated by other work.
const TIME_BUDGET_MS = 150_000;
// Two agents (own directories) rotate side by side; each life spans several rotations, since a
// start costs more than a rotation.
const SLOTS = [0, 1];

void describe('identity crash consistency', () => {
  let dir = '';
  let bundleDir = '';
  let ca: TestCa;
  const children = new Set<ChildProcess>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-id-crash-'));
    // Inside the repo so the bundle resolves node_modules; dist/ is ignored by git.
    bundleDir = join(REPO_ROOT, 'dist', `test-identity-${process.pid}`);
    await build({ entryPoints: [join(REPO_ROOT, 'src/main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: join(bundleDir, 'agent.mjs'), logLevel: 'warning' });
    ca = await TestCa.create({ protocol: 'istiod', backdateMs: 120_000 });
    ca.addToken('crash-token', ID, 3_600_000);
    await writeFile(join(dir, 'root.pem'), ca.rootPem);
    await writeFile(join(dir, 'token'), 'crash-token');
    for (const slot of SLOTS) {
      const config = {
        stateDir: join(dir, `state-${slot}`),
        log: { level: 'info' },
        istio: { clusterEnv: join(dir, 'none.env'), sidecarEnv: join(dir, 'none.env') },
        status: { listen: `127.0.0.1:${testPort()}` },
        identity: {
          enabled: true,
          ca: { protocol: 'istiod', address: ca.address, serverName: 'istiod.istio-system.svc', rootCert: join(dir, 'root.pem'), tokenFile: join(dir, 'token') },
          spiffe: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'crash' },
          certDir: join(dir, `certs-${slot}`),
          owner: '',
          ttl: '1s',
          graceRatio: 0.99,
          graceJitter: 0,
        },
      };
      await mkdir(join(dir, `state-${slot}`));
      await writeFile(join(dir, `config-${slot}.yaml`), stringify(config));
    }
  });

  after(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
    }
    await ca?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(bundleDir, { recursive: true, force: true });
  });

  function spawnAgent(slot: number): { proc: ChildProcess; output: () => string } {
    const proc = spawn(process.execPath, [join(bundleDir, 'agent.mjs'), 'run', '--config', join(dir, `config-${slot}.yaml`)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    proc.on('exit', () => children.delete(proc));
    let text = '';
    proc.stdout?.on('data', (chunk: Buffer) => (text = (text + chunk.toString()).slice(-20_000)));
    proc.stderr?.on('data', (chunk: Buffer) => (text = (text + chunk.toString()).slice(-20_000)));
    return { proc, output: () => text };
  }

  void test(`the key/chain pair is consistent after every kill -9 during ${TARGET_ROTATIONS} rotations`, async () => {
    const started = Date.now();
    let kills = 0;
    let lastOutput = '';

    const lives = async (slot: number): Promise<void> => {
      const certDir = join(dir, `certs-${slot}`);
      let everInstalled = false;
      let n = 0;
      // Both bounds: enough rotations and enough kills, whatever the machine's speed.
      while ((ca.issued < TARGET_ROTATIONS || kills < MIN_KILLS) && Date.now() - started < TIME_BUDGET_MS) {
        const agent = spawnAgent(slot);
        // Half the kills at a random moment of a life of a few rotations, half aimed at the
        // install window: a short random time after the CA answered.
        if (n % 2 === 0) {
          await sleep(1500 + Math.random() * 5000);
        } else {
          const issuedBefore = ca.issued;
          await waitFor('a rotation in progress', () => ca.issued > issuedBefore + 6 || agent.proc.exitCode !== null, 15_000, 5);
          await sleep(Math.random() * 40);
        }
        n += 1;
        const exited = once(agent.proc, 'exit');
        agent.proc.kill('SIGKILL');
        await exited;
        kills += 1;
        lastOutput = agent.output();
        assert.equal(agent.proc.signalCode, 'SIGKILL', `the agent died on its own:\n${lastOutput.slice(-3000)}`);

        const installed = await readInstalled(certDir);
        if (installed === undefined) {
          assert.equal(everInstalled, false, 'a certificate disappeared after it had been installed');
          continue;
        }
        everInstalled = true;
        assert.ok(installed.keyMatches, `slot ${slot}, kill ${n}: key.pem does not match cert-chain.pem`);
        assert.deepEqual(installed.uris, [ID]);
        assert.ok(installed.rootPem.includes('BEGIN CERTIFICATE'), 'root-cert.pem parses');
        assert.equal((await stat(join(certDir, 'key.pem'))).mode & 0o777, 0o600);
      }
    };
    await Promise.all(SLOTS.map(lives));
    assert.ok(ca.issued >= TARGET_ROTATIONS, `only ${ca.issued} rotations in ${TIME_BUDGET_MS} ms (${kills} kills)\n${lastOutput.slice(-2000)}`);
    assert.ok(kills >= MIN_KILLS, `only ${kills} kills`);

    // A last start repairs what the kills left (unfinished generations, temp links) and rotates.
    const certDir = join(dir, 'certs-0');
    const agent = spawnAgent(0);
    await waitFor(`a fresh rotation after restart\n${agent.output()}`, () => /certificate installed/.test(agent.output()), 15_000);
    const exited = once(agent.proc, 'exit');
    agent.proc.kill('SIGTERM');
    await exited;
    const leftovers = (await readdir(certDir)).filter((n) => n.includes('.tmp'));
    assert.deepEqual(leftovers, [], 'no temporary files left after a clean run');
    const generations = (await readdir(certDir)).filter((n) => n.startsWith('..gen-'));
    assert.equal(generations.length, 1, `one generation directory, got ${generations.join(', ')}`);
    const final = await readInstalled(certDir);
    assert.ok(final?.keyMatches);
    console.log(`# ${ca.issued} certificates issued, ${kills} kills, ${Math.round((Date.now() - started) / 1000)} s`);
  });
});
