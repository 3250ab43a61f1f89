/**
 * Headless Chromium (Debian's package, /usr/bin/chromium) driven over the DevTools protocol on a
 * pipe (cdp-pipe.ts), optionally inside a test's network namespace so that it reaches a status
 * endpoint on that namespace's loopback. A fresh profile per browser, removed on close; the flags
 * keep it from reaching for any network but the page's.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { CdpPipe } from './cdp-pipe.js';
import { waitFor } from './exec.js';
import type { Netns } from './netns.js';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM);
}

export interface PageOptions {
  javascript: boolean;
  width?: number;
  height?: number;
}

export interface Page {
  /** Runs an expression in the page (JavaScript pages only) and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** The document as Chromium holds it now (scripted changes included). */
  outerHTML(): Promise<string>;
  /** How many elements match a CSS selector (works with JavaScript off too). */
  count(selector: string): Promise<number>;
  /** A PNG of the whole page. */
  screenshot(): Promise<Buffer>;
}

export interface Browser {
  open(url: string, options: PageOptions): Promise<Page>;
  logs(): string;
  close(): Promise<void>;
}

export async function launchChromium(ns?: Netns): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'mna-chromium-'));
  const args = [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'];
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'];
  const proc: ChildProcess = ns === undefined ? spawn(CHROMIUM, args, { stdio }) : ns.spawn(CHROMIUM, args, { stdio });
  const killOnExit = (): void => void proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  const keep = (chunk: Buffer): void => {
    // dbus complaints are noise on a machine without a session bus.
    output = `${output}${chunk.toString().split('\n').filter((l) => !l.includes('dbus')).join('\n')}`.slice(-8000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const cdp = new CdpPipe(proc.stdio[3] as Writable, proc.stdio[4] as Readable);

  const open = async (url: string, options: PageOptions): Promise<Page> => {
    const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const send = (method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> => cdp.send(method, params, sessionId);
    await send('Page.enable');
    await send('Emulation.setDeviceMetricsOverride', { width: options.width ?? 1280, height: options.height ?? 900, deviceScaleFactor: 1, mobile: false });
    if (!options.javascript) await send('Emulation.setScriptExecutionDisabled', { value: true });
    const loaded = cdp.once('Page.loadEventFired', sessionId, 20_000);
    const nav = (await send('Page.navigate', { url })) as { errorText?: string };
    if (nav.errorText !== undefined) throw new Error(`Chromium could not load ${url}: ${nav.errorText}`);
    await loaded;
    const root = async (): Promise<number> => ((await send('DOM.getDocument', { depth: 0 })) as { root: { nodeId: number } }).root.nodeId;
    return {
      async evaluate<T>(expression: string): Promise<T> {
        const r = (await send('Runtime.evaluate', { expression, returnByValue: true })) as { result: { value?: unknown }; exceptionDetails?: { text: string } };
        if (r.exceptionDetails !== undefined) throw new Error(`page threw: ${r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      async outerHTML() {
        return ((await send('DOM.getOuterHTML', { nodeId: await root() })) as { outerHTML: string }).outerHTML;
      },
      async count(selector: string) {
        return ((await send('DOM.querySelectorAll', { nodeId: await root(), selector })) as { nodeIds: number[] }).nodeIds.length;
      },
      async screenshot() {
        const shot = (await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
        return Buffer.from(shot.data, 'base64');
      },
    };
  };

  try {
    // The browser answers once it is up.
    await waitFor('Chromium DevTools pipe', async () => (await cdp.send('Browser.getVersion', {}, undefined, 5000)).product !== undefined, 30_000, 200);
  } catch (err) {
    proc.kill('SIGKILL');
    await rm(profile, { recursive: true, force: true });
    throw new Error(`Chromium did not start: ${(err as Error).message}\n${output}`, { cause: err });
  }
  return {
    open,
    logs: () => output,
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = once(proc, 'exit');
        await cdp.send('Browser.close', {}, undefined, 3000).catch(() => proc.kill('SIGKILL'));
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
