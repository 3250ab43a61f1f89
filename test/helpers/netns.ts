/**
 * Network namespaces for tests: unique names, veth pairs, processes inside, and cleanup that runs
 * even when a test fails or the process exits early (a synchronous sweep on 'exit').
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { must, run, type ExecResult } from './exec.js';
import { uniqueIfName, uniqueNetnsName } from './names.js';

const live = new Set<string>();
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    // A process left inside a deleted namespace would keep it (and its addresses) alive.
    for (const child of liveChildren) child.kill('SIGKILL');
    for (const name of live) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });
}

export class Netns {
  private readonly children = new Set<ChildProcess>();

  constructor(readonly name: string) {}

  /** Runs a command inside the namespace; resolves with its exit code. */
  run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], input === undefined ? {} : { input });
  }

  /** Runs a command inside the namespace and rejects on failure. */
  must(cmd: string, args: readonly string[], input?: string): Promise<string> {
    return must('ip', ['netns', 'exec', this.name, cmd, ...args], input === undefined ? {} : { input });
  }

  /** `ip <args>` inside the namespace. */
  ip(...args: string[]): Promise<string> {
    return this.must('ip', args);
  }

  /** Runs a shell script inside the namespace (for the seed's literal commands). */
  sh(script: string): Promise<string> {
    return this.must('sh', ['-ec', script]);
  }

  /** Starts a long-running process inside the namespace; it is killed by destroy(). */
  spawn(cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    // `ip netns exec` execs the command, so the child's pid is the command's own.
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.children.add(child);
    liveChildren.add(child);
    child.on('exit', () => {
      this.children.delete(child);
      liveChildren.delete(child);
    });
    return child;
  }

  async destroy(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    this.children.clear();
    await run('ip', ['netns', 'del', this.name]);
    live.delete(this.name);
  }
}

export async function createNetns(tag: string): Promise<Netns> {
  installExitHook();
  const name = uniqueNetnsName(tag);
  await must('ip', ['netns', 'add', name]);
  live.add(name);
  const ns = new Netns(name);
  await ns.ip('link', 'set', 'lo', 'up');
  return ns;
}

export interface VethEnd {
  ns: Netns;
  /** Address with prefix, e.g. 192.168.50.1/24. */
  address?: string;
  ifname?: string;
}

/** A veth pair between two namespaces, both ends up; returns the interface names. */
export async function connect(a: VethEnd, b: VethEnd): Promise<{ a: string; b: string }> {
  const aName = a.ifname ?? uniqueIfName('va');
  const bName = b.ifname ?? uniqueIfName('vb');
  const tmpA = uniqueIfName('ta');
  const tmpB = uniqueIfName('tb');
  await must('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  await must('ip', ['link', 'set', tmpA, 'netns', a.ns.name, 'name', aName]);
  await must('ip', ['link', 'set', tmpB, 'netns', b.ns.name, 'name', bName]);
  for (const [end, name] of [[a, aName], [b, bName]] as const) {
    if (end.address !== undefined) await end.ns.ip('addr', 'add', end.address, 'dev', name);
    await end.ns.ip('link', 'set', name, 'up');
  }
  return { a: aName, b: bName };
}

/** Creates namespaces for a test and always destroys them, whatever the test does. */
export async function withNetns<T>(tags: readonly string[], body: (...ns: Netns[]) => Promise<T>): Promise<T> {
  const created: Netns[] = [];
  try {
    for (const tag of tags) created.push(await createNetns(tag));
    return await body(...created);
  } finally {
    for (const ns of created) await ns.destroy();
  }
}
