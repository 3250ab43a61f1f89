/**
 * A real kube-apiserver (v1.26, with its own etcd) for a test file, inside a network namespace the
 * test creates, started and stopped with the tool's start.sh / stop.sh. This process reaches it
 * through a bridge (kube-bridge.ts) at https://127.0.0.1:<port>, which the serving certificate
 * covers. The tool is found through MNA_KUBE_APISERVER_DIR, else in shared/ beside the checkout
 * (where CI lays it); a missing tool fails the test with a message saying so.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientForTarget } from '../../src/kube/connect.js';
import type { KubeClient } from '../../src/kube/client.js';
import { must } from './exec.js';
import { startNsBridge, type NsBridge } from './kube-bridge.js';
import { createNetns, type Netns } from './netns.js';

export const KUBE_APISERVER_DIR_ENV = 'MNA_KUBE_APISERVER_DIR';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The one place the tool's default locations are written: beside the checkout, then the path the
 * project's machines (and CI) provision it at, for clones and worktrees that live elsewhere.
 */
const DEFAULT_TOOL_DIRS = [join(repoRoot, '../shared/tools/kube-apiserver'), '/work/shared/tools/kube-apiserver'];

/** The tool's directory (start.sh, stop.sh, kube-apiserver, crds/), or an error saying how to provide it. */
export function kubeApiServerToolDir(): string {
  const fromEnv = process.env[KUBE_APISERVER_DIR_ENV];
  const candidates = fromEnv !== undefined && fromEnv !== '' ? [fromEnv] : DEFAULT_TOOL_DIRS;
  const found = candidates.find((dir) => existsSync(join(dir, 'start.sh')) && existsSync(join(dir, 'stop.sh')));
  if (found === undefined) {
    throw new Error(`the test kube-apiserver tool (start.sh, stop.sh) is not in ${candidates.join(' nor ')}; set ${KUBE_APISERVER_DIR_ENV} to its directory`);
  }
  for (const tool of ['etcd', 'etcdctl', 'curl', 'openssl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`the test kube-apiserver needs ${tool} (start.sh runs it); install it (scripts/bootstrap.sh installs etcd, etcdctl and openssl)`);
    }
  }
  return found;
}

/** What start.sh wrote in DIR/env, with the server URL and kubeconfig as this process reaches them. */
export interface KubeApiEnv {
  APISERVER_URL: string;
  /** The URL inside the namespace (what start.sh wrote). */
  APISERVER_URL_IN_NS: string;
  KUBE_CA_FILE: string;
  ADMIN_TOKEN: string;
  /** An admin kubeconfig (client certificate) pointing at APISERVER_URL. */
  KUBECONFIG: string;
  ETCD_URL: string;
  ETCD_PID: number;
  KUBE_APISERVER_PID: number;
}

export interface KubeApiServer {
  ns: Netns;
  dir: string;
  toolDir: string;
  env: KubeApiEnv;
  /** An admin client (static admin token + the cluster CA), on its own bridge: never cut. */
  admin: KubeClient;
  /** The path clients under test take (env.APISERVER_URL): cut it for a partition. */
  bridge: NsBridge;
  /** stop.sh: the API server and its etcd go down; the data stays. */
  stop(): Promise<void>;
  /** start.sh on the same directory: same PKI, same etcd data. */
  start(): Promise<void>;
  /** etcd's current revision (the resourceVersion the next write gets, minus one). */
  etcdRevision(): Promise<number>;
  /** `etcdctl compact REV`: every revision before it is gone from etcd. */
  compact(revision: number): Promise<void>;
  cleanup(): Promise<void>;
}

const livePids = new Set<number>();
let exitHook = false;

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').flatMap((line) => {
    const eq = line.indexOf('=');
    return eq > 0 ? [[line.slice(0, eq), line.slice(eq + 1)]] : [];
  }));
}

export interface KubeApiServerOptions {
  /** Run in this namespace (kept at cleanup) instead of one of its own. */
  ns?: Netns;
  /** IP:PORT to serve on inside the namespace (start.sh's second argument); default 127.0.0.1:6443. */
  listen?: string;
}

export async function startKubeApiServer(tag = 'tkc', options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const toolDir = kubeApiServerToolDir();
  if (!exitHook) {
    exitHook = true;
    // A test process that dies must not leave an API server running in a deleted namespace.
    process.on('exit', () => {
      for (const pid of livePids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'mna-kapi-'));
  const ns = options.ns ?? (await createNetns(tag.startsWith('tkc') ? tag : `tkc${tag}`));
  const ownNs = options.ns === undefined;
  let env: KubeApiEnv | undefined;
  let bridge: NsBridge | undefined;
  let adminBridge: NsBridge | undefined;
  let admin: KubeClient | undefined;
  const inNs = (cmd: string, args: string[], timeout = 60_000): Promise<string> => must('ip', ['netns', 'exec', ns.name, cmd, ...args], { timeout });

  const start = async (): Promise<void> => {
    await inNs(join(toolDir, 'start.sh'), options.listen === undefined ? [dir] : [dir, options.listen], 180_000);
    const raw = parseEnv(await readFile(join(dir, 'env'), 'utf8'));
    const pids = [Number(raw.ETCD_PID), Number(raw.KUBE_APISERVER_PID)];
    for (const pid of pids) livePids.add(pid);
    const inside = new URL(raw.APISERVER_URL ?? '');
    bridge ??= await startNsBridge(ns, join(dir, 'bridge.sock'), Number(inside.port), inside.hostname);
    adminBridge ??= await startNsBridge(ns, join(dir, 'admin.sock'), Number(inside.port), inside.hostname);
    const url = `https://${bridge.host}`;
    const kubeconfig = (await readFile(raw.KUBECONFIG ?? '', 'utf8')).replace(raw.APISERVER_URL ?? '', url);
    await writeFile(join(dir, 'kubeconfig.host'), kubeconfig);
    env = {
      APISERVER_URL: url,
      APISERVER_URL_IN_NS: raw.APISERVER_URL ?? '',
      KUBE_CA_FILE: raw.KUBE_CA_FILE ?? '',
      ADMIN_TOKEN: raw.ADMIN_TOKEN ?? '',
      KUBECONFIG: join(dir, 'kubeconfig.host'),
      ETCD_URL: raw.ETCD_URL ?? '',
      ETCD_PID: pids[0] ?? 0,
      KUBE_APISERVER_PID: pids[1] ?? 0,
    };
    admin ??= await clientForTarget(
      { server: `https://${adminBridge.host}`, description: 'test admin', ca: { kind: 'file', path: env.KUBE_CA_FILE, origin: { key: 'KUBE_CA_FILE' } }, token: { kind: 'static', value: env.ADMIN_TOKEN, origin: { key: 'ADMIN_TOKEN' } } },
      { timeout: 30_000 },
    );
  };
  const stop = async (): Promise<void> => {
    await inNs(join(toolDir, 'stop.sh'), [dir], 60_000);
    if (env !== undefined) {
      livePids.delete(env.ETCD_PID);
      livePids.delete(env.KUBE_APISERVER_PID);
    }
  };

  try {
    await start();
  } catch (err) {
    await stop().catch(() => undefined);
    await bridge?.close();
    await adminBridge?.close();
    if (ownNs) await ns.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const etcdctl = (args: string[]): Promise<string> => inNs('etcdctl', ['--endpoints', env?.ETCD_URL ?? '', ...args]);
  const server: KubeApiServer = {
    ns,
    dir,
    toolDir,
    get env() {
      if (env === undefined) throw new Error('the API server is not started');
      return env;
    },
    get admin() {
      if (admin === undefined) throw new Error('the API server is not started');
      return admin;
    },
    get bridge() {
      if (bridge === undefined) throw new Error('the API server is not started');
      return bridge;
    },
    stop,
    start,
    async etcdRevision() {
      const status = JSON.parse(await etcdctl(['endpoint', 'status', '-w', 'json'])) as { Status: { header: { revision: number } } }[];
      return status[0]?.Status.header.revision ?? 0;
    },
    async compact(revision) {
      await etcdctl(['compact', String(revision)]);
    },
    async cleanup() {
      admin?.close();
      await stop().catch(() => undefined);
      await bridge?.close();
      await adminBridge?.close();
      if (ownNs) await ns.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
