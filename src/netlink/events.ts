/**
 * Netlink event subscription for the agent: runs monitor-child in a child process (see there for
 * why), parses its lines, and restarts it with backoff when it dies. Every (re)start emits
 * 'ready'; after a restart events may have been lost, so listeners resync fully on 'ready'.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { KernelEvent } from './event-types.js';

interface EventsMap {
  event: [KernelEvent];
  ready: [];
  lost: [string];
}

/**
 * The monitor holds almost nothing and decodes a few messages at a time: a small heap, and no
 * optimizing compiler, keep its private memory to a few MB beside the agent's.
 */
const CHILD_V8_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=32', '--optimize-for-size', '--jitless', '--no-expose-wasm'];

/** Keeps the loader flags (tsx in development) so the child runs the same way we do. */
function loaderArgs(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (/^--(import|require|loader|experimental-loader)=/.test(a)) out.push(a);
    else if (/^--(import|require|loader|experimental-loader)$/.test(a) && i + 1 < argv.length) out.push(a, argv[++i] ?? '');
  }
  return out;
}

/**
 * The monitor's entry sits beside this module: src/netlink/monitor-child.ts from source, and in a
 * bundle the build must emit monitor-child.mjs next to main.mjs.
 */
export function monitorScript(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./monitor-child${extname(self)}`, import.meta.url));
}

export class NetlinkEvents extends EventEmitter<EventsMap> {
  private child: ChildProcess | undefined;
  private stopped = false;
  private backoffMs = 100;
  private timer: NodeJS.Timeout | undefined;
  restarts = 0;

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the monitor; false when its script is missing (a build without it): no events then. */
  start(): boolean {
    this.stopped = false;
    if (!existsSync(monitorScript())) {
      this.stopped = true;
      return false;
    }
    this.spawnChild();
    return true;
  }

  /** Resolves on the next 'ready', or after `timeoutMs` with false. */
  waitReady(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.once('ready', onReady);
    });
  }

  private spawnChild(): void {
    const child = spawn(process.execPath, [...CHILD_V8_FLAGS, ...loaderArgs(), monitorScript()], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof parsed !== 'object' || parsed === null) return;
      if ((parsed as { kind?: unknown }).kind === 'ready') {
        this.backoffMs = 100;
        this.emit('ready');
      } else {
        this.emit('event', parsed as KernelEvent);
      }
    });
    child.on('error', () => undefined);
    child.stdin.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.restarts += 1;
      this.emit('lost', `event monitor exited (${signal ?? code ?? 'unknown'}); restarting`);
      this.timer = setTimeout(() => this.spawnChild(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    });
  }

  /** Mutes (or unmutes) notifications of added neighbours and routes: our own bulk writes. */
  mute(on: boolean): void {
    const stdin = this.child?.stdin;
    if (stdin !== undefined && stdin !== null && !stdin.destroyed) stdin.write(on ? 'mute\n' : 'unmute\n');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.child;
    this.child = undefined;
    if (child !== undefined && child.exitCode === null) {
      child.stdin?.end();
      child.kill('SIGTERM');
    }
  }
}
