/** What the agent accepts in identity.certDir: the pure judgement of the directory and its entries. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { judgeEntries, planCertDir, type EntryFacts } from '../../src/identity/cert-dir-plan.js';
import { writableByOthers, type FileFacts } from '../../src/safe-file/policy.js';

const GEN = '..gen-mx59gep2-cb732b';
const dir = (over: Partial<FileFacts> = {}): FileFacts => ({ kind: 'dir', uid: 0, gid: 0, mode: 0o755, nlink: 2, size: 4096, ...over });
const file = (over: Partial<FileFacts> = {}): EntryFacts => ({ kind: 'file', uid: 0, gid: 0, mode: 0o644, nlink: 1, size: 100, ...over });
const link = (target: string, uid = 0): EntryFacts => ({ kind: 'link', uid, gid: uid, mode: 0o777, nlink: 1, size: target.length, target });

function verdicts(entries: Record<string, EntryFacts>): Record<string, string> {
  return Object.fromEntries(judgeEntries(new Map(Object.entries(entries)), 0).map((v) => [v.name, v.action]));
}

void describe('writableByOthers', () => {
  void test('only root-owned without group/other write passes; the agent counts as root when it is not', () => {
    assert.equal(writableByOthers({ uid: 0, mode: 0o644 }, 0), undefined);
    assert.equal(writableByOthers({ uid: 65534, mode: 0o644 }, 0), 'owned by uid 65534');
    assert.equal(writableByOthers({ uid: 0, mode: 0o664 }, 0), 'writable by group (mode 0664)');
    assert.equal(writableByOthers({ uid: 0, mode: 0o1777 }, 0), 'writable by group and others (mode 1777)');
    assert.equal(writableByOthers({ uid: 1000, mode: 0o600 }, 1000), undefined);
  });
});

void describe('judgeEntries', () => {
  void test("the agent's own layout is kept, including links an older version handed to the proxy", () => {
    assert.deepEqual(
      verdicts({ [GEN]: dir(), '..data': link(GEN, 65534), 'key.pem': link('..data/key.pem', 65534), 'cert-chain.pem': link('..data/cert-chain.pem'), 'root-cert.pem': file() }),
      { [GEN]: 'keep', '..data': 'keep', 'key.pem': 'keep', 'cert-chain.pem': 'keep', 'root-cert.pem': 'keep' },
    );
  });

  void test('links anywhere else, under any name the agent uses, are moved aside', () => {
    const v = verdicts({
      'key.pem': link('/etc/shadow'),
      'cert-chain.pem': link('..data/key.pem'),
      'root-cert.pem': link('/etc/ssl/certs/ca.pem'),
      'meta.json': link('/etc/shadow', 65534),
      '..gen-aaaa-bbbbbb': link('/root'),
      '..data': link('..gen-aaaa-bbbbbb'),
    });
    assert.deepEqual(Object.values(v), Array(6).fill('move-aside'));
  });

  void test('..data must point to a root-only generation directory', () => {
    assert.equal(verdicts({ '..data': link(GEN) })['..data'], 'move-aside', 'missing generation');
    assert.deepEqual(verdicts({ [GEN]: dir({ uid: 65534 }), '..data': link(GEN) }), { [GEN]: 'move-aside', '..data': 'move-aside' });
    assert.deepEqual(verdicts({ [GEN]: dir({ mode: 0o775 }), '..data': link(GEN) }), { [GEN]: 'move-aside', '..data': 'move-aside' });
    assert.equal(verdicts({ '..gen-x': dir(), '..data': link('..gen-x') })['..data'], 'move-aside', 'not a name the agent makes');
    assert.equal(verdicts({ '..data': link('../../etc') })['..data'], 'move-aside');
  });

  void test('plain key/chain files are adopted unless hard-linked or special; root-cert.pem is trusted only when root wrote it', () => {
    const v = verdicts({ 'key.pem': file({ uid: 65534, mode: 0o600 }), 'cert-chain.pem': file({ nlink: 2 }), 'root-cert.pem': file({ uid: 65534 }) });
    assert.deepEqual(v, { 'key.pem': 'adopt', 'cert-chain.pem': 'move-aside', 'root-cert.pem': 'distrust' });
    assert.equal(verdicts({ 'root-cert.pem': file({ mode: 0o666 }) })['root-cert.pem'], 'distrust');
    assert.equal(verdicts({ 'root-cert.pem': file({ nlink: 3 }) })['root-cert.pem'], 'move-aside');
    assert.equal(verdicts({ 'key.pem': { ...file(), kind: 'other' } })['key.pem'], 'move-aside', 'a FIFO is never opened for reading');
    assert.equal(verdicts({ 'meta.json': file() })['meta.json'], 'move-aside');
  });

  void test("temp leftovers are removed only when root's; other names and moved-aside entries are left alone", () => {
    const v = verdicts({
      [`${GEN}.tmp`]: dir(),
      '..gen-aaaa-bbbbbb.tmp': dir({ uid: 65534 }),
      '.root-cert.pem.tmp-0a1b2c3d': file(),
      '.data.tmp-0a1b2c3e': link(GEN, 65534),
      'README': link('/etc/shadow'),
      '..foreign-2025-key.pem': link('/etc/shadow'),
    });
    assert.deepEqual(v, { [`${GEN}.tmp`]: 'remove', '..gen-aaaa-bbbbbb.tmp': 'move-aside', '.root-cert.pem.tmp-0a1b2c3d': 'remove', '.data.tmp-0a1b2c3e': 'move-aside' });
  });

  void test('a problem names what the entry is', () => {
    const [v] = judgeEntries(new Map([['key.pem', link('/etc/shadow', 65534)]]), 0);
    assert.ok(v?.action === 'move-aside');
    assert.equal(v.problem, 'a symbolic link to "/etc/shadow" (uid 65534): the agent\'s link points to ..data/key.pem');
  });
});

void describe('planCertDir', () => {
  const plan = (d: FileFacts | undefined, parent: FileFacts | undefined = dir(), euid = 0) => planCertDir('/etc/certs', d, parent, '/etc', euid);

  void test('a root-only directory is fine; a missing one is created', () => {
    assert.deepEqual(plan(dir()), { action: 'ok' });
    assert.deepEqual(plan(undefined), { action: 'create' });
  });

  void test("a proxy-owned or group-writable directory is taken back, keeping its group and execute bits", () => {
    assert.deepEqual(plan(dir({ uid: 999, gid: 999, mode: 0o775 })), { action: 'fix', chown: true, mode: 0o755, problem: 'owned by uid 999' });
    assert.deepEqual(plan(dir({ mode: 0o2770 })), { action: 'fix', chown: false, mode: 0o2750, problem: 'writable by group (mode 2770)' });
  });

  void test('refused: a link, a non-directory, a parent others can write, or a fix the agent cannot make', () => {
    const refused = (p: ReturnType<typeof plan>): string => (p.action === 'refuse' ? `${p.problem} | ${p.fix}` : `not refused: ${p.action}`);
    assert.match(refused(plan({ ...dir(), kind: 'link' })), /^is a symbolic link \| set identity.certDir to the directory itself$/);
    assert.match(refused(plan(file())), /^is not a directory/);
    assert.match(refused(plan(dir(), dir({ uid: 999 }))), /^its directory \/etc is owned by uid 999, so another user could replace it \| chown root \/etc && chmod go-w \/etc/);
    assert.match(refused(plan(dir(), dir({ mode: 0o1777 }))), /writable by group and others/);
    assert.match(refused(planCertDir('/etc/certs', dir(), undefined, '/etc', 0)), /^its directory \/etc does not exist/);
    assert.match(refused(plan(dir({ uid: 999 }), dir(), 1000)), /^owned by uid 999 \| chown root \/etc\/certs && chmod go-w \/etc\/certs \(the agent is not root and cannot\)$/);
  });
});
