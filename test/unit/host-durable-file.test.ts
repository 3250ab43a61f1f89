/** The one durable-write helper on a real filesystem (a temp directory): mode, owner, replace, failure, symlinks. */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileDurably, writeNewFile } from '../../src/host/durable-file.js';

const isRoot = process.getuid?.() === 0;

void describe('writeFileDurably', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-durable-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void test('the mode is the one asked for, whatever the umask (the unit runs with UMask=0077)', async () => {
    const previous = process.umask(0o077);
    try {
      await writeFileDurably(join(dir, 'a'), 'x\n', { mode: 0o644, owner: 'agent' });
      await writeFileDurably(join(dir, 'b'), 'y\n', { mode: 0o600, owner: 'agent' });
    } finally {
      process.umask(previous);
    }
    assert.equal((await stat(join(dir, 'a'))).mode & 0o777, 0o644);
    assert.equal((await stat(join(dir, 'b'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), 'x\n');
  });

  void test('replaces an existing file (even a wider one) and leaves no temp file behind', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, 'old', { mode: 0o666 });
    await writeFileDurably(path, 'new', { mode: 0o600, owner: 'agent' });
    assert.equal(await readFile(path, 'utf8'), 'new');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['state.json']);
  });

  void test('an explicit owner is applied; "agent" keeps the process owner', { skip: !isRoot && 'needs root to chown' }, async () => {
    await writeFileDurably(join(dir, 'theirs'), 'k', { mode: 0o640, owner: { uid: 4242, gid: 4343 } });
    await writeFileDurably(join(dir, 'ours'), 'k', { mode: 0o640, owner: 'agent' });
    const theirs = await stat(join(dir, 'theirs'));
    const ours = await stat(join(dir, 'ours'));
    assert.deepEqual([theirs.uid, theirs.gid], [4242, 4343]);
    assert.deepEqual([ours.uid, ours.gid], [process.getuid?.(), process.getgid?.()]);
  });

  void test('a symbolic link at the path is replaced, never followed', async () => {
    const victim = join(dir, 'victim');
    await writeFile(victim, 'untouched');
    const path = join(dir, 'vtep-mac.flannel.1');
    await symlink(victim, path);
    await writeFileDurably(path, '5a:09:44:c7:a3:fb\n', { mode: 0o644, owner: 'agent' });
    assert.equal(await readFile(victim, 'utf8'), 'untouched');
    assert.ok((await lstat(path)).isFile(), 'the link itself was replaced by a regular file');
    assert.equal(await readFile(path, 'utf8'), '5a:09:44:c7:a3:fb\n');
  });

  void test('a failed write keeps the old content and removes its temp file', async () => {
    // A directory in the way makes the rename fail after the temp file was written.
    const path = join(dir, 'busy');
    await mkdir(path);
    await writeFile(join(path, 'inside'), 'kept');
    await assert.rejects(writeFileDurably(path, 'new', { mode: 0o644, owner: 'agent' }), (err: NodeJS.ErrnoException) => err.code === 'EISDIR');
    assert.deepEqual(await readdir(dir), ['busy']);
    assert.equal(await readFile(join(path, 'inside'), 'utf8'), 'kept');
  });

  void test('a missing directory is an error, not a silent success', async () => {
    await assert.rejects(writeFileDurably(join(dir, 'no-such-dir', 'f'), 'x', { mode: 0o644, owner: 'agent' }), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });
});

void describe('writeNewFile', () => {
  void test('refuses an existing path (a planted file or link is never written through)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-durable-'));
    try {
      const victim = join(dir, 'victim');
      await writeFile(victim, 'untouched');
      await symlink(victim, join(dir, 'key.pem'));
      await assert.rejects(writeNewFile(join(dir, 'key.pem'), 'secret', { mode: 0o600, owner: 'agent' }), (err: NodeJS.ErrnoException) => err.code === 'EEXIST');
      assert.equal(await readFile(victim, 'utf8'), 'untouched');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
