/**
 * Packaging tests' fixtures: the .deb built by scripts/package.sh (shared by the test files of one
 * run through a lock and reused while no input changed), a cached Debian 12 root made by
 * debootstrap, throwaway overlay copies of that root to install into, and such a copy booted
 * with its own systemd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './agent-process.js';
import { must, run, sleep, waitFor, type ExecResult } from './exec.js';
import type { Netns } from './netns.js';

export const CACHE_DIR = process.env.MNA_TEST_CACHE ?? '/var/cache/mesh-node-agent-test';
export const DEBIAN_MIRROR = process.env.MNA_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
/** What a stock Debian 12 VM has beyond minbase and the package needs (its Depends, and systemd). */
const ROOT_PACKAGES = ['adduser', 'iptables', 'procps', 'systemd'];
/** A clean environment for commands in the root: nothing of this host's (e.g. NODE_EXTRA_CA_CERTS). */
export const ROOT_ENV = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8'];

export const PACKAGE_VERSION = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** A lock directory shared between processes; a holder that died is detected by its pid. */
async function withLock<T>(dir: string, what: string, timeoutMs: number, body: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => '0'));
      if (holder > 0 && !isAlive(holder)) await rm(dir, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (lock ${dir} held by pid ${holder})`, { cause: err });
      await sleep(500);
    }
  }
  try {
    return await body();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

/** Everything a package build reads; a .deb newer than all of it is current. */
function inputsMtime(): number {
  const inputs = ['src', 'proto', 'debian', 'systemd', 'scripts', 'docs/packaging.md', 'package.json', 'package-lock.json'];
  return Math.max(...inputs.map((p) => newestMtime(join(REPO_ROOT, p))), statSync(process.execPath).mtimeMs);
}

/**
 * build/mesh-node-agent_<version>_amd64.deb, built by `npm run package` (gzip-compressed: faster,
 * same content) unless an up-to-date one exists. Returns its absolute path.
 */
export async function buildDeb(version = PACKAGE_VERSION): Promise<string> {
  const deb = join(REPO_ROOT, 'build', `mesh-node-agent_${version}_amd64.deb`);
  await mkdir(join(REPO_ROOT, 'build'), { recursive: true });
  return withLock(join(REPO_ROOT, 'build', '.package.lock'), `the .deb build`, 300_000, async () => {
    if (existsSync(deb) && statSync(deb).mtimeMs > inputsMtime()) return deb;
    const env = { ...process.env, MNA_VERSION: version, MNA_DEB_COMPRESSION: 'gzip' };
    const result = await run('bash', ['scripts/package.sh'], { cwd: REPO_ROOT, env, timeout: 240_000 });
    if (result.code !== 0) throw new Error(`npm run package failed (${result.code}):\n${result.stderr.slice(-4000)}`);
    if (result.stdout.trim() !== `build/mesh-node-agent_${version}_amd64.deb`) throw new Error(`package.sh printed ${result.stdout.trim()}`);
    return deb;
  });
}

/** Why the Debian root cannot be made here, or undefined when the mirror answers. */
async function mirrorProblem(): Promise<string | undefined> {
  try {
    const res = await fetch(`${DEBIAN_MIRROR}/dists/bookworm/Release`, { method: 'HEAD', signal: AbortSignal.timeout(15_000) });
    return res.ok ? undefined : `${DEBIAN_MIRROR} answered ${res.status}`;
  } catch (err) {
    return `${DEBIAN_MIRROR} unreachable (${err instanceof Error ? err.message : String(err)})`;
  }
}

/**
 * A pristine Debian 12 root (debootstrap --variant=minbase bookworm, plus ROOT_PACKAGES), made once
 * and cached in CACHE_DIR. Returns its path, or {skip} when it does not exist and the mirror
 * cannot be reached.
 */
export async function debianRoot(): Promise<string | { skip: string }> {
  const dir = join(CACHE_DIR, `bookworm-minbase-${ROOT_PACKAGES.join('-')}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  await mkdir(CACHE_DIR, { recursive: true });
  const problem = await mirrorProblem();
  if (problem !== undefined) return { skip: `no cached Debian 12 root in ${CACHE_DIR} and debootstrap cannot reach the mirror: ${problem}` };
  return withLock(`${dir}.lock`, 'debootstrap', 600_000, async () => {
    if (existsSync(join(dir, '.complete'))) return dir;
    const temp = `${dir}.tmp-${process.pid}`;
    await rm(temp, { recursive: true, force: true });
    const args = ['--variant=minbase', `--include=${ROOT_PACKAGES.join(',')}`, 'bookworm', temp, DEBIAN_MIRROR];
    const result = await run('debootstrap', args, { timeout: 540_000 });
    if (result.code !== 0) {
      await rm(temp, { recursive: true, force: true });
      throw new Error(`debootstrap ${args.join(' ')} failed (${result.code}):\n${(result.stdout + result.stderr).slice(-3000)}`);
    }
    await writeFile(join(temp, '.complete'), `${new Date().toISOString()}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(temp, dir);
    return dir;
  });
}

const ROOT_PREFIX = 'mna-pkg-root-';

/** Unmounts and deletes the overlays of test processes that died before their cleanup ran. */
async function sweepDeadRoots(): Promise<void> {
  for (const entry of await readdir(tmpdir())) {
    const pid = Number(entry.slice(ROOT_PREFIX.length).split('-')[0]);
    if (!entry.startsWith(ROOT_PREFIX) || !(pid > 0) || isAlive(pid)) continue;
    const work = join(tmpdir(), entry);
    await run('umount', [join(work, 'root', 'proc')]);
    await run('umount', [join(work, 'root')]);
    const stillMounted = (await readFile('/proc/self/mounts', 'utf8')).includes(work);
    if (!stillMounted) await rm(work, { recursive: true, force: true });
  }
}

/**
 * A writable copy of the cached root (overlayfs: the cache stays pristine) with /proc mounted.
 * Commands run chrooted inside a network namespace the test owns, with a clean environment.
 */
export class InstallRoot {
  private constructor(
    readonly path: string,
    private readonly work: string,
    private readonly ns: Netns,
    private readonly proc: boolean,
  ) {}

  /** `proc: false` for a root that systemd-nspawn boots (it mounts its own). */
  static async create(base: string, ns: Netns, options: { proc?: boolean } = {}): Promise<InstallRoot> {
    await sweepDeadRoots();
    const work = await mkdtemp(join(tmpdir(), `${ROOT_PREFIX}${process.pid}-`));
    const root = join(work, 'root');
    await Promise.all(['upper', 'work', 'root'].map((d) => mkdir(join(work, d))));
    await must('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${join(work, 'upper')},workdir=${join(work, 'work')}`, root]);
    try {
      if (options.proc !== false) await must('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
    } catch (err) {
      await run('umount', [root]);
      await rm(work, { recursive: true, force: true });
      throw err;
    }
    return new InstallRoot(root, work, ns, options.proc !== false);
  }

  /** argv that runs `args` chrooted in the namespace (for Netns.spawn). */
  argv(...args: string[]): string[] {
    return [...ROOT_ENV, 'chroot', this.path, ...args];
  }

  run(...args: string[]): Promise<ExecResult> {
    const [cmd, ...rest] = this.argv(...args);
    return this.ns.run(cmd ?? 'env', rest);
  }

  async must(...args: string[]): Promise<string> {
    const result = await this.run(...args);
    if (result.code !== 0) throw new Error(`${args.join(' ')} in the Debian root exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }

  /** Copies a host file into the root (/tmp unless told); returns its path inside the root. */
  async put(hostPath: string, name: string, dir = '/tmp'): Promise<string> {
    await must('cp', ['-R', hostPath, join(this.path, dir, name)]);
    return `${dir}/${name}`;
  }

  hostPath(inRoot: string): string {
    return join(this.path, inRoot);
  }

  async destroy(): Promise<void> {
    if (this.proc) await run('umount', [join(this.path, 'proc')]);
    await run('umount', [this.path]);
    await rm(this.work, { recursive: true, force: true });
  }
}

/** Paths that change on any dpkg run and say nothing about what a package left behind. */
const VOLATILE = [/^\/(proc|dev|sys|run|tmp)(\/|$)/, /^\/var\/(lib\/dpkg|log|cache)(\/|$)/, /^\/etc\/(passwd|group|shadow|gshadow|subuid|subgid)-$/, /^\/etc\/ld\.so\.cache$/];

/** Every path under a root (lstat, no symlink following) except VOLATILE ones, sorted. */
export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(root, rel))) {
      const path = `${rel}/${entry}`;
      if (VOLATILE.some((re) => re.test(path))) continue;
      out.push(path);
      if ((await lstat(join(root, path))).isDirectory()) await walk(path);
    }
  };
  await walk('');
  return out.sort();
}

/**
 * The root booted with its own systemd (systemd-nspawn --boot) in the test's network namespace,
 * so the unit runs for real: Type=notify, the sandbox, reload, ExecStopPost, Restart=.
 */
export class BootedRoot {
  private constructor(
    private readonly nspawn: ChildProcess,
    readonly leader: number,
    private console: () => string,
  ) {}

  /** Boots `root` (an InstallRoot's path, /proc not mounted by us inside); resolves once systemd is up. */
  static async boot(rootPath: string, ns: Netns): Promise<BootedRoot> {
    const args = [
      '-q', '-D', rootPath, '--boot', '--register=no', '--keep-unit',
      `--network-namespace-path=/run/netns/${ns.name}`,
      // nspawn withholds NET_ADMIN from containers without their own network; this one has the test's netns.
      '--capability=CAP_NET_ADMIN',
    ];
    const nspawn = spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    nspawn.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    nspawn.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = (): boolean => nspawn.exitCode !== null || nspawn.signalCode !== null;
    try {
      const leader = await waitFor('the container init', async () => {
        if (exited()) throw new Error(`systemd-nspawn exited: ${output.slice(-2000)}`);
        const children = await readFile(`/proc/${nspawn.pid}/task/${nspawn.pid}/children`, 'utf8').catch(() => '');
        const pid = Number(children.trim().split(/\s+/)[0]);
        return pid > 0 ? pid : undefined;
      }, 20_000, 100);
      const booted = new BootedRoot(nspawn, leader, () => output);
      await waitFor(`systemd in the container to finish booting (console: ${output.slice(-1500)})`, async () => {
        if (exited()) throw new Error(`systemd-nspawn exited: ${output.slice(-2000)}`);
        const state = (await booted.run('systemctl', 'is-system-running')).stdout.trim();
        return state === 'running' || state === 'degraded';
      }, 60_000, 250);
      return booted;
    } catch (err) {
      nspawn.kill('SIGKILL');
      throw err;
    }
  }

  /** Runs a command in all of the container's namespaces, with a clean environment. */
  run(...args: string[]): Promise<ExecResult> {
    return run('nsenter', ['-t', String(this.leader), '-a', ...ROOT_ENV, ...args], { input: '' });
  }

  async must(...args: string[]): Promise<string> {
    const result = await this.run(...args);
    if (result.code !== 0) throw new Error(`${args.join(' ')} in the container exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }

  consoleOutput(): string {
    return this.console();
  }

  /** Powers the container off (nspawn turns SIGTERM into a clean shutdown); SIGKILL after 20 s. */
  async destroy(): Promise<void> {
    if (this.nspawn.exitCode !== null || this.nspawn.signalCode !== null) return;
    const exited = once(this.nspawn, 'exit');
    this.nspawn.kill('SIGTERM');
    const timer = setTimeout(() => this.nspawn.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}
