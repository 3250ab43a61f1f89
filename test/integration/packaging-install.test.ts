/**
 * The .deb on a fresh Debian 12 root (debootstrap, no Node.js): dpkg installs it, the installed
 * CLI runs on the shipped runtime, the installed agent answers /readyz inside a network namespace,
 * an upgrade keeps a changed conffile, and purge leaves the root as it found it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, lstatSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { must, run, waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { buildDeb, debianRoot, InstallRoot, listTree, PACKAGE_VERSION } from '../helpers/packaging-deb.js';

const base = await debianRoot();
const NEXT_VERSION = `${PACKAGE_VERSION}+test2`;
const CONFIG = '/etc/mesh-node-agent/config.yaml';
const ACCOUNTS = ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow'];

void describe('packaging: install on a fresh Debian 12', { skip: typeof base === 'string' ? false : base.skip }, () => {
  let ns: Netns | undefined;
  let root: InstallRoot | undefined;
  let deb = '';
  let treeBefore: string[] = [];
  const accountsBefore = new Map<string, string>();
  const r = (): InstallRoot => {
    assert.ok(root !== undefined);
    return root;
  };
  const dpkg = async (...args: string[]): Promise<string> => {
    // stdin closed: a conffile prompt would fail the test instead of waiting.
    const result = await r().run('dpkg', ...args);
    assert.equal(result.code, 0, `dpkg ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`);
    return result.stdout + result.stderr;
  };

  before(async () => {
    if (typeof base !== 'string') return;
    deb = await buildDeb();
    ns = await createNetns('pkg');
    root = await InstallRoot.create(base, ns);
    treeBefore = await listTree(root.path);
    for (const file of ACCOUNTS) accountsBefore.set(file, await readFile(root.hostPath(file), 'utf8'));
  });
  after(async () => {
    await root?.destroy();
    await ns?.destroy();
  });

  void test('dpkg installs it on a root without Node.js; version and check-config run from the installed files', async () => {
    assert.notEqual((await r().run('sh', '-c', 'command -v node nodejs')).code, 0, 'the root has no Node.js of its own');
    const output = await dpkg('-i', await r().put(deb, 'mesh-node-agent.deb'));
    assert.match(output, /installed and enabled, but NOT started/);
    assert.match(output, /systemctl start mesh-node-agent/);

    const version = await r().must('mesh-node-agent', 'version');
    assert.match(version, new RegExp(`^mesh-node-agent ${PACKAGE_VERSION.replace(/[.+]/g, '\\$&')} \\(node v20\\.`));
    const check = await r().run('mesh-node-agent', 'check-config');
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /config OK \(\/etc\/mesh-node-agent\/config\.yaml\)/);
    assert.match(check.stdout, /enabled: false # \/etc\/mesh-node-agent\/config\.yaml:\d+:\d+/);

    // What postinst and debhelper set up: the proxy user, the agent's capture bypass group, certDir,
    // state, the enabled (not started) unit.
    assert.match(await r().must('id', '-un', 'istio-proxy'), /istio-proxy/);
    assert.match(await r().must('getent', 'group', 'mesh-node-agent'), /^mesh-node-agent:x:\d+:$/m);
    assert.ok(existsSync(r().hostPath('/etc/certs')));
    assert.ok(existsSync(r().hostPath('/var/lib/mesh-node-agent')));
    const wants = lstatSync(r().hostPath('/etc/systemd/system/multi-user.target.wants/mesh-node-agent.service'), { throwIfNoEntry: false });
    assert.ok(wants?.isSymbolicLink() === true, 'the unit is enabled');
    const man = await r().run('sh', '-c', 'zcat /usr/share/man/man8/mesh-node-agent.8.gz');
    assert.match(man.stdout, /^\.SH NAME\nmesh-node-agent \\- /m);
  });

  void test('systemd-analyze verify accepts the installed unit', async () => {
    const result = await run('systemd-analyze', ['verify', `--root=${r().path}`, '--man=no', 'mesh-node-agent.service']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stderr.trim(), '');
  });

  void test('the installed agent, started inside a network namespace, answers /readyz', async () => {
    assert.ok(ns !== undefined);
    const [cmd, ...args] = r().argv('mesh-node-agent', 'run');
    const agent: ChildProcess = ns.spawn(cmd ?? 'env', args);
    let logs = '';
    agent.stdout?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    agent.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    try {
      await waitFor(`the installed agent's status (logs: ${logs})`, async () => (await r().run('mesh-node-agent', 'status')).code === 0, 20_000, 200);
      const script = 'fetch("http://127.0.0.1:15030/readyz").then(async (r) => console.log(r.status, await r.text()))';
      const readyz = await ns.must(process.execPath, ['-e', script]);
      assert.match(readyz, /^200 /);
      assert.match(logs, /"msg":"agent started"/);
    } finally {
      const exited = once(agent, 'exit') as Promise<[number | null, string | null]>;
      agent.kill('SIGTERM');
      const timer = setTimeout(() => agent.kill('SIGKILL'), 10_000);
      const [code] = await exited;
      clearTimeout(timer);
      assert.equal(code, 0, `the agent stops cleanly on SIGTERM:\n${logs}`);
    }
  });

  void test('the shipped runtime loads the bundled netlink addon and etcd3 protos on this root', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mna-pkg-probe-'));
    try {
      const env = { ...process.env, MNA_BUILD_ENTRY: 'test/fixtures/packaging-probe.ts', MNA_BUILD_OUT: out };
      await must(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT, env });
      const dir = await r().put(out, 'probe');
      const output = await r().must('/usr/lib/mesh-node-agent/node', `${dir}/main.mjs`);
      assert.deepEqual(JSON.parse(output), { links: ['lo'], etcd: 'function' });
    } finally {
      await rm(out, { recursive: true, force: true });
      await rm(r().hostPath('/tmp/probe'), { recursive: true, force: true });
    }
  });

  void test('an upgrade keeps the changed conffile', async () => {
    await appendFile(r().hostPath(CONFIG), '\nlog: { level: warn }   # changed by the administrator\n');
    const edited = await readFile(r().hostPath(CONFIG), 'utf8');
    const next = await buildDeb(NEXT_VERSION);
    const output = await dpkg('-i', await r().put(next, 'mesh-node-agent-next.deb'));
    assert.doesNotMatch(output, /NOT started/, 'the first-install notice is not repeated');

    assert.equal(await readFile(r().hostPath(CONFIG), 'utf8'), edited);
    assert.deepEqual((await readdir(r().hostPath('/etc/mesh-node-agent'))).sort(), ['config.yaml']);
    assert.equal((await r().must('dpkg-query', '-W', '-f=${Version}', 'mesh-node-agent')).trim(), NEXT_VERSION);
    assert.match(await r().must('mesh-node-agent', 'version'), new RegExp(`^mesh-node-agent ${NEXT_VERSION.replace(/[.+]/g, '\\$&')} `));
    const effective = JSON.parse(await r().must('mesh-node-agent', 'check-config', '--json')) as { config: { log: { level: string } } };
    assert.equal(effective.config.log.level, 'warn');
  });

  void test('remove keeps the config; purge leaves the root as it was before the install', async () => {
    await dpkg('-r', 'mesh-node-agent');
    assert.ok(!existsSync(r().hostPath('/usr/lib/mesh-node-agent')));
    assert.ok(!existsSync(r().hostPath('/usr/bin/mesh-node-agent')));
    assert.ok(existsSync(r().hostPath(CONFIG)), 'remove keeps the conffile');

    await dpkg('--purge', 'mesh-node-agent');
    await rm(r().hostPath('/tmp/mesh-node-agent.deb'));
    await rm(r().hostPath('/tmp/mesh-node-agent-next.deb'));
    const treeAfter = await listTree(r().path);
    const added = treeAfter.filter((p) => !treeBefore.includes(p));
    const removed = treeBefore.filter((p) => !treeAfter.includes(p));
    assert.deepEqual({ added, removed }, { added: [], removed: [] });
    for (const [file, before] of accountsBefore) assert.equal(await readFile(r().hostPath(file), 'utf8'), before, `${file} as before`);
  });
});
