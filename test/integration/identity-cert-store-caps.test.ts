/**
 * Under systemd the agent is root with CAP_CHOWN but no CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH
 * (systemd/mesh-node-agent.service). The cert store must still install files owned by the proxy
 * user, prune old generations, and read its own key back after a restart.
 */
import assert from 'node:assert/strict';
import { chown, lstat, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliArgv, REPO_ROOT } from '../helpers/agent-process.js';
import { run } from '../helpers/exec.js';

const CAPS_ONLY = ['--bounding-set=-all,+chown', '--inh-caps=-all', '--'];

function probeArgv(certs: string): string[] {
  const [node, ...tsx] = cliArgv();
  return [node ?? 'node', ...tsx.slice(0, 2), join(REPO_ROOT, 'test/fixtures/cert-store-probe.ts'), certs, '65534', '65534'];
}

test('install, prune and read back with only CAP_CHOWN, files owned by the proxy user', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mna-caps-'));
  try {
    const certs = join(dir, 'certs');
    const capsOnly = [...CAPS_ONLY, ...probeArgv(certs)];
    const result = await run('setpriv', capsOnly, { cwd: REPO_ROOT });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /ok/);
    const key = await stat(join(certs, 'key.pem'));
    assert.equal(key.uid, 65534);
    assert.equal(key.gid, 0);
    assert.equal(key.mode & 0o777, 0o640);
    assert.equal((await stat(join(certs, 'cert-chain.pem'))).uid, 0, 'only the key is handed to the proxy');
    assert.equal((await stat(join(certs, 'root-cert.pem'))).uid, 0);
    assert.ok((await lstat(join(certs, 'key.pem'))).isSymbolicLink());
    assert.equal((await readdir(certs)).filter((n) => n.startsWith('..gen-')).length, 1, 'old generations pruned');
    // A second process (the agent after a restart) under the same restriction reads the pair.
    const again = await run('setpriv', capsOnly, { cwd: REPO_ROOT });
    assert.equal(again.code, 0, again.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('with only CAP_CHOWN a proxy-owned certDir is taken back and what the proxy planted is moved aside', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mna-caps-'));
  try {
    const certs = join(dir, 'certs');
    await mkdir(certs, { mode: 0o775 });
    await mkdir(join(certs, '..gen-aaaa-bbbbbb'), { mode: 0o755 });
    await writeFile(join(certs, '..gen-aaaa-bbbbbb', 'key.pem'), 'planted');
    await symlink('/etc/hostname', join(certs, 'key.pem'));
    for (const path of [join(certs, '..gen-aaaa-bbbbbb', 'key.pem'), join(certs, '..gen-aaaa-bbbbbb'), certs]) await chown(path, 65534, 65534);
    await run('chown', ['-h', '65534:65534', join(certs, 'key.pem')]);
    // Without CAP_DAC_OVERRIDE root can write into the directory only once it owns it.
    const result = await run('setpriv', [...CAPS_ONLY, ...probeArgv(certs)], { cwd: REPO_ROOT });
    assert.equal(result.code, 0, result.stderr);
    const st = await stat(certs);
    assert.deepEqual({ uid: st.uid, writable: st.mode & 0o022 }, { uid: 0, writable: 0 });
    const foreign = (await readdir(certs)).filter((n) => n.startsWith('..foreign-')).sort();
    assert.equal(foreign.length, 2, foreign.join(' '));
    assert.equal(await readlink(join(certs, 'key.pem')), '..data/key.pem', "the agent's link, not the planted one");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
