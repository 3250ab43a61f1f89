/**
 * The unit under a real systemd: the Debian 12 root booted with systemd-nspawn inside the test's
 * network namespace, the .deb installed there, then systemctl start/status/reload/stop and a crash.
 * Shows that Type=notify readiness arrives, that the sandbox and syscall filter leave Node working,
 * the capability bounding set, ExecStopPost and Restart=on-failure.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, type Netns } from '../helpers/netns.js';
import { waitFor } from '../helpers/exec.js';
import { BootedRoot, buildDeb, debianRoot, InstallRoot } from '../helpers/packaging-deb.js';

const base = await debianRoot();
const UNIT = 'mesh-node-agent.service';
/** CAP_CHOWN (0), CAP_SETGID (6), CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13). */
const EXPECTED_CAPS = (1n << 0n) | (1n << 6n) | (1n << 10n) | (1n << 12n) | (1n << 13n);

void describe('packaging: the unit under systemd', { skip: typeof base === 'string' ? false : base.skip }, () => {
  let ns: Netns | undefined;
  let root: InstallRoot | undefined;
  let vm: BootedRoot | undefined;
  const c = (): BootedRoot => {
    assert.ok(vm !== undefined);
    return vm;
  };
  const show = async (property: string): Promise<string> => (await c().must('systemctl', 'show', '-P', property, UNIT)).trim();

  before(async () => {
    if (typeof base !== 'string') return;
    const deb = await buildDeb();
    ns = await createNetns('pkg');
    await ns.ip('link', 'set', 'lo', 'up');
    root = await InstallRoot.create(base, ns, { proc: false });
    const path = await root.put(deb, 'mesh-node-agent.deb', '/var/tmp');
    vm = await BootedRoot.boot(root.path, ns);
    await vm.must('dpkg', '-i', path);
  });
  after(async () => {
    await vm?.destroy();
    await root?.destroy();
    await ns?.destroy();
  });

  void test('installed enabled and not started; systemctl start returns once the agent reported READY=1', async () => {
    assert.equal((await c().run('systemctl', 'is-enabled', UNIT)).stdout.trim(), 'enabled');
    assert.equal((await c().run('systemctl', 'is-active', UNIT)).stdout.trim(), 'inactive');
    await c().must('systemctl', 'start', UNIT);
    assert.equal(await show('ActiveState'), 'active');
    assert.equal(await show('StatusText'), 'ready', 'the STATUS= sent with READY=1 through systemd-notify');
    const status = await c().run('mesh-node-agent', 'status');
    assert.equal(status.code, 0, status.stdout + status.stderr);
  });

  void test('the agent runs with exactly the bounding set, no new privileges and a syscall filter', async () => {
    const pid = await show('MainPID');
    const proc = await c().must('cat', `/proc/${pid}/status`);
    const field = (name: string): string => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(proc)?.[1] ?? '';
    assert.equal(BigInt(`0x${field('CapBnd')}`), EXPECTED_CAPS);
    assert.equal(BigInt(`0x${field('CapEff')}`), EXPECTED_CAPS);
    assert.equal(field('NoNewPrivs'), '1');
    assert.equal(field('Seccomp'), '2');
    // It joined the package's mesh-node-agent group (capture's bypass) under the sandbox, as a
    // supplementary group: root stays its primary group.
    const gid = (await c().must('getent', 'group', 'mesh-node-agent')).split(':')[2] ?? '';
    assert.match(gid, /^\d+$/);
    assert.ok(/^Groups:\s*(.*)$/m.exec(proc)?.[1]?.trim().split(/\s+/).includes(gid), proc);
    assert.equal(field('Gid'), '0');
    assert.match(await c().must('cat', `/proc/${pid}/cmdline`), /^\/usr\/lib\/mesh-node-agent\/node\0--max-semi-space-size=4\0--min-semi-space-size=4\0\/usr\/lib\/mesh-node-agent\/main\.mjs\0run/);
  });

  void test('reload re-reads the config; stop runs the cleanup; a crash is restarted', async () => {
    await c().must('systemctl', 'reload', UNIT);
    const status = JSON.parse(await c().must('mesh-node-agent', 'status', '--json')) as { config: { generation: number } };
    assert.equal(status.config.generation, 2);

    const before = await show('MainPID');
    await c().must('kill', '-KILL', before);
    await waitFor('systemd to restart the agent', async () => {
      const pid = await show('MainPID');
      return (await show('ActiveState')) === 'active' && pid !== before && pid !== '0';
    }, 20_000, 250);
    assert.equal(await show('NRestarts'), '1');

    await c().must('systemctl', 'stop', UNIT);
    assert.equal(await show('ActiveState'), 'inactive');
    assert.match(await show('ExecStopPost'), /argv\[\]=\/usr\/bin\/mesh-node-agent run --cleanup-only ;.*code=exited ; status=0/);
    const journal = await c().must('journalctl', '-u', UNIT, '-o', 'cat', '--no-pager');
    assert.doesNotMatch(journal, /"level":(40|50|60)/, `no warnings or errors in the agent's log:\n${journal}`);
  });
});
