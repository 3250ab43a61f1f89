/** The generation-switch layout on a real filesystem (a temp directory), including crash leftovers. */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertStore, DATA_LINK } from '../../src/identity/cert-store.js';
import { parsePasswd } from '../../src/identity/owner.js';

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

void describe('owner lookup', () => {
  void test('parses /etc/passwd lines by name or uid', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nistio-proxy:x:1337:1337::/var/lib/istio:/bin/false\n';
    assert.deepEqual(parsePasswd(passwd, 'istio-proxy'), { uid: 1337, gid: 1337 });
    assert.deepEqual(parsePasswd(passwd, '1337'), { uid: 1337, gid: 1337 });
    assert.equal(parsePasswd(passwd, 'nobody'), undefined);
  });
});
