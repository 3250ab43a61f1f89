/** The generation-switch layout on a real filesystem (a temp directory), including crash leftovers. */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chown, link, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertStore, DATA_LINK, type CertDirFinding } from '../../src/identity/cert-store.js';
import { NEEDS_ROOT } from '../helpers/needs-root.js';

const meta = (serial: string) => ({ issuedAt: 1, spiffeId: 'spiffe://x/ns/a/sa/b', serial });

void describe('CertStore', () => {
  let dir = '';
  let store: CertStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-store-'));
    store = new CertStore(join(dir, 'certs'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const gens = async (): Promise<string[]> => (await readdir(store.dir)).filter((n) => n.startsWith('..gen-'));

  void test('installs into an empty directory: links, 0600 key, one generation, meta', async () => {
    const result = await store.install({ keyPem: 'K1', chainPem: 'C1', rootPem: 'R1', meta: meta('1') });
    assert.deepEqual({ pair: result.pairWritten, root: result.rootWritten }, { pair: true, root: true });
    assert.equal(await readlink(join(store.dir, 'key.pem')), `${DATA_LINK}/key.pem`);
    assert.equal(await readlink(join(store.dir, 'cert-chain.pem')), `${DATA_LINK}/cert-chain.pem`);
    assert.equal((await stat(join(store.dir, 'key.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(store.dir, 'cert-chain.pem'))).mode & 0o777, 0o644);
    assert.ok((await lstat(join(store.dir, 'root-cert.pem'))).isFile());
    const read = await store.read();
    assert.deepEqual({ k: read.keyPem, c: read.chainPem, r: read.rootPem, m: read.meta }, { k: 'K1', c: 'C1', r: 'R1', m: meta('1') });
    assert.equal((await gens()).length, 1);
  });

  void test('a new pair switches generations and drops the old one; unchanged files are not rewritten', async () => {
    await store.install({ keyPem: 'K1', chainPem: 'C1', rootPem: 'R1', meta: meta('1') });
    const rootBefore = await stat(join(store.dir, 'root-cert.pem'));
    const second = await store.install({ keyPem: 'K2', chainPem: 'C2', rootPem: 'R1', meta: meta('2') });
    assert.equal(second.rootWritten, false);
    assert.equal((await stat(join(store.dir, 'root-cert.pem'))).ino, rootBefore.ino, 'root-cert.pem untouched');
    assert.equal((await store.read()).keyPem, 'K2');
    assert.equal((await gens()).length, 1);
    const same = await store.install({ keyPem: 'K2', chainPem: 'C2', rootPem: 'R1', meta: meta('2') });
    assert.deepEqual({ pair: same.pairWritten, root: same.rootWritten }, { pair: false, root: false });
    const rotatedRoot = await store.install({ keyPem: 'K2', chainPem: 'C2', rootPem: 'R2', meta: meta('2') });
    assert.equal(rotatedRoot.rootWritten, true);
    assert.equal((await store.read()).rootPem, 'R2');
  });

  void test('repair adopts hand-provisioned plain files without changing what they contain', async () => {
    await mkdir(store.dir);
    await writeFile(join(store.dir, 'key.pem'), 'PK', { mode: 0o600 });
    await writeFile(join(store.dir, 'cert-chain.pem'), 'PC');
    const notes = await store.repair();
    assert.match(notes.join(' '), /adopted plain key.pem and cert-chain.pem/);
    assert.ok((await lstat(join(store.dir, 'key.pem'))).isSymbolicLink());
    assert.equal(await readFile(join(store.dir, 'key.pem'), 'utf8'), 'PK');
    assert.equal(await readFile(join(store.dir, 'cert-chain.pem'), 'utf8'), 'PC');
  });

  void test('a kill before the switch leaves the old pair visible; repair removes the leftovers', async () => {
    await store.install({ keyPem: 'K1', chainPem: 'C1', rootPem: 'R1', meta: meta('1') });
    // What a kill at various points leaves: an unfinished generation, a finished but unswitched
    // one, temp files of root-cert.pem and of a link.
    await mkdir(join(store.dir, '..gen-zz-000001.tmp'));
    await writeFile(join(store.dir, '..gen-zz-000001.tmp', 'key.pem'), 'half');
    await mkdir(join(store.dir, '..gen-zz-000002'));
    await writeFile(join(store.dir, '..gen-zz-000002', 'key.pem'), 'K9');
    await writeFile(join(store.dir, '..gen-zz-000002', 'cert-chain.pem'), 'C9');
    await writeFile(join(store.dir, '.root-cert.pem.tmp-0a1b2c3d'), 'R?');
    await symlink('..gen-zz-000002', join(store.dir, '.data.tmp-0a1b2c3e'));
    const visible = await store.read();
    assert.deepEqual([visible.keyPem, visible.chainPem], ['K1', 'C1'], 'readers still see the old, matching pair');
    await store.repair();
    assert.deepEqual([(await store.read()).keyPem, (await store.read()).chainPem], ['K1', 'C1']);
    const names = await readdir(store.dir);
    assert.deepEqual(names.filter((n) => n.includes('.tmp')), []);
    assert.equal((await gens()).length, 1);
  });

  void test('a deleted link is recreated on repair', async () => {
    await store.install({ keyPem: 'K1', chainPem: 'C1', rootPem: 'R1', meta: meta('1') });
    await rm(join(store.dir, 'key.pem'));
    await store.repair();
    assert.equal((await store.read()).keyPem, 'K1');
  });
});

void describe('CertStore and files it did not write', () => {
  let dir = '';
  let findings: CertDirFinding[] = [];
  let store: CertStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-store-'));
    findings = [];
    store = new CertStore(join(dir, 'certs'), { report: (f) => findings.push(f), owner: () => ({ uid: 65534, gid: 65534 }) });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void test('a proxy-owned certDir is taken back and reported; only the key is handed over', { skip: NEEDS_ROOT }, async () => {
    await mkdir(store.dir, { mode: 0o775 });
    await chown(store.dir, 65534, 65534);
    await store.install({ keyPem: 'K1', chainPem: 'C1', rootPem: 'R1', meta: meta('1') });
    const st = await stat(store.dir);
    assert.deepEqual({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }, { uid: 0, gid: 65534, mode: 0o755 });
    assert.deepEqual(findings.map((f) => [f.entry, f.problem]), [['.', 'owned by uid 65534']]);
    assert.equal((await stat(join(store.dir, 'key.pem'))).uid, 65534);
    for (const name of ['cert-chain.pem', 'root-cert.pem', `${DATA_LINK}/meta.json`]) assert.equal((await stat(join(store.dir, name))).uid, 0, name);
  });

  void test('a FIFO, a hard link and a link to a file are moved aside without being opened', async () => {
    await mkdir(store.dir);
    execFileSync('mkfifo', [join(store.dir, 'cert-chain.pem')]);
    await writeFile(join(dir, 'secret'), 'S', { mode: 0o600 });
    await link(join(dir, 'secret'), join(store.dir, 'root-cert.pem'));
    await symlink(join(dir, 'secret'), join(store.dir, 'key.pem'));
    await store.repair(); // a FIFO opened for reading would block here for ever
    assert.deepEqual(findings.map((f) => f.entry).sort(), ['cert-chain.pem', 'key.pem', 'root-cert.pem']);
    assert.ok(findings.every((f) => f.action.startsWith('moved aside to ..foreign-')));
    assert.deepEqual(await store.read(), { keyPem: undefined, chainPem: undefined, rootPem: undefined, meta: undefined });
    assert.equal((await readdir(store.dir)).filter((n) => n.startsWith('..foreign-')).length, 3);
  });

  void test('a root-cert.pem root did not write is never read as trusted, and the next install replaces it', { skip: NEEDS_ROOT }, async () => {
    await store.install({ keyPem: 'K1', chainPem: 'C1', rootPem: 'R1', meta: meta('1') });
    await chown(join(store.dir, 'root-cert.pem'), 65534, 65534);
    await writeFile(join(store.dir, 'root-cert.pem'), 'PROXY ROOT');
    assert.equal((await store.read()).rootPem, undefined);
    await store.install({ keyPem: 'K2', chainPem: 'C2', rootPem: 'R1', meta: meta('2') });
    assert.match(findings.map((f) => `${f.entry}: ${f.action}`).join('\n'), /root-cert.pem: not trusted/);
    const st = await stat(join(store.dir, 'root-cert.pem'));
    assert.deepEqual({ uid: st.uid, mode: st.mode & 0o777, text: (await store.read()).rootPem }, { uid: 0, mode: 0o644, text: 'R1' });
  });

  void test('under umask 077 the directory and generations are still 0755, the key 0640', { skip: NEEDS_ROOT }, async () => {
    const old = process.umask(0o077);
    try {
      await store.install({ keyPem: 'K1', chainPem: 'C1', rootPem: 'R1', meta: meta('1') });
    } finally {
      process.umask(old);
    }
    const gen = await readlink(join(store.dir, DATA_LINK));
    assert.equal((await stat(store.dir)).mode & 0o777, 0o755);
    assert.equal((await stat(join(store.dir, gen))).mode & 0o777, 0o755);
    assert.equal((await stat(join(store.dir, gen, 'key.pem'))).mode & 0o777, 0o640);
    assert.equal((await stat(join(store.dir, gen, 'meta.json'))).mode & 0o777, 0o644);
  });

  void test('a certDir that is a link is refused with the fix', async () => {
    await mkdir(join(dir, 'real'));
    await symlink(join(dir, 'real'), store.dir);
    await assert.rejects(store.repair(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MNA_CERT_DIR_UNSAFE');
      assert.match(err.message, /identity.certDir \S+ is a symbolic link; refusing to use it. Fix: set identity.certDir to the directory itself/);
      return true;
    });
  });
});
