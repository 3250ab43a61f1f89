/**
 * The .deb as built by `npm run package`: what it contains, lintian, the unit's systemd-analyze
 * score, and the bundling of dependencies that load files or native code at run time.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { must, run } from '../helpers/exec.js';
import { withNetns } from '../helpers/netns.js';
import { buildDeb } from '../helpers/packaging-deb.js';

/** Lintian warnings accepted on purpose; docs/packaging.md "Lintian" says why. */
const ACCEPTED_WARNINGS = new Set(['hardening-no-pie']);
/**
 * systemd-analyze's score of the shipped unit (2.7): CAP_SETGID costs 0.3 over the 2.4 of the
 * four network/chown capabilities; it is what lets the agent join its capture bypass group and run
 * identity.onRotate outside it (docs/packaging.md "Capabilities").
 */
const MAX_EXPOSURE = 2.7;

void describe('packaging: the .deb', () => {
  let deb = '';
  let tmp = '';

  before(async () => {
    deb = await buildDeb();
    tmp = await mkdtemp(join(tmpdir(), 'mna-pkg-deb-'));
  });
  after(async () => {
    if (tmp !== '') await rm(tmp, { recursive: true, force: true });
  });

  void test('carries the bundle and its own runtime, not node_modules, and no nodejs dependency', async () => {
    const field = async (name: string): Promise<string> => (await must('dpkg-deb', ['-f', deb, name])).trim();
    assert.equal(await field('Architecture'), 'amd64');
    const depends = await field('Depends');
    assert.doesNotMatch(depends, /nodejs/);
    for (const dep of ['iptables', 'adduser', 'procps']) assert.match(depends, new RegExp(`(^|, )${dep}(,|$| )`));

    const files = (await must('dpkg-deb', ['-c', deb])).split('\n').map((l) => l.split(/\s+/).pop() ?? '').filter((p) => p !== '');
    for (const path of [
      './usr/bin/mesh-node-agent',
      './usr/lib/mesh-node-agent/node',
      './usr/lib/mesh-node-agent/main.mjs',
      './usr/lib/mesh-node-agent/monitor-child.mjs',
      './lib/systemd/system/mesh-node-agent.service',
      './etc/mesh-node-agent/config.yaml',
      './usr/share/man/man8/mesh-node-agent.8.gz',
      './usr/share/doc/mesh-node-agent/copyright',
      './usr/share/doc/mesh-node-agent/THIRD-PARTY-LICENSES.txt.gz',
    ]) {
      assert.ok(files.includes(path), `${path} is in the package`);
    }
    const modules = files.filter((p) => p.includes('/node_modules/') && !/\/node_modules\/(netlink|node-gyp-build)(\/|$)/.test(p.replace(/\/node_modules\/?$/, '')));
    assert.deepEqual(modules.filter((p) => !p.endsWith('/node_modules/')), [], 'only the native netlink addon ships as node_modules');
    // About 110 today: the bundle is split into a chunk per lazily loaded part (each controller, each
    // registry, the Kubernetes client), plus netlink's files and the docs. Far below a node_modules tree.
    assert.ok(files.length < 150, `a small package: ${files.length} entries`);

    const control = await mkdtemp(join(tmp, 'control-'));
    await must('dpkg-deb', ['-e', deb, control]);
    assert.equal((await readFile(join(control, 'conffiles'), 'utf8')).trim(), '/etc/mesh-node-agent/config.yaml');
  });

  void test('lintian reports no errors, and only the accepted warnings', async () => {
    const result = await run('lintian', ['--fail-on', 'error', deb], { timeout: 120_000 });
    const tags = result.stdout.split('\n').filter((l) => /^[EW]: /.test(l));
    assert.deepEqual(tags.filter((l) => l.startsWith('E: ')), [], result.stdout);
    assert.equal(result.code, 0, result.stderr);
    const warnings = tags.filter((l) => l.startsWith('W: ')).map((l) => l.split(' ')[2] ?? '');
    assert.deepEqual(warnings.filter((w) => !ACCEPTED_WARNINGS.has(w)), [], result.stdout);
  });

  void test(`systemd-analyze security --offline=true scores the shipped unit at most ${MAX_EXPOSURE}`, async () => {
    const tree = await mkdtemp(join(tmp, 'tree-'));
    await must('dpkg-deb', ['-x', deb, tree]);
    const unit = join(tree, 'lib/systemd/system/mesh-node-agent.service');
    assert.equal(await readFile(unit, 'utf8'), await readFile(join(REPO_ROOT, 'systemd/mesh-node-agent.service'), 'utf8'));
    const result = await run('systemd-analyze', ['security', '--offline=true', unit]);
    const score = /Overall exposure level for mesh-node-agent\.service: ([\d.]+)/.exec(result.stdout);
    assert.ok(score !== null, result.stdout + result.stderr);
    assert.ok(Number(score[1]) <= MAX_EXPOSURE, `exposure ${score[1]} > ${MAX_EXPOSURE}:\n${result.stdout}`);
  });

  void test('the bundle ships the netlink addon and etcd3 protos it loads at run time', async () => {
    const out = join(tmp, 'probe');
    const env = { ...process.env, MNA_BUILD_ENTRY: 'test/fixtures/packaging-probe.ts', MNA_BUILD_OUT: out };
    await must(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT, env });
    // Run from outside the repository: nothing may resolve from its node_modules.
    const output = await withNetns(['pkg'], (ns) => ns.must('sh', ['-c', `cd / && exec "${process.execPath}" "${join(out, 'main.mjs')}"`]));
    assert.deepEqual(JSON.parse(output), { links: ['lo'], etcd: 'function' });
  });
});
