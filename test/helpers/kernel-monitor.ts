/**
 * `ip monitor` / `bridge monitor fdb` inside a namespace, known to be listening: a marker change
 * (a route, or an FDB entry, on a device the test names) is made, undone and made again until the
 * monitor has reported it. `barrier()` does the same later on: whatever the kernel reported before
 * it is then in `output`, so a test can assert that something did not happen without sleeping.
 */
import { once } from 'node:events';
import { waitFor } from './exec.js';
import type { Netns } from './netns.js';

export interface KernelMonitor {
  readonly output: string;
  /** Resolves once everything the kernel reported so far has been read. */
  barrier(): Promise<void>;
  stop(): Promise<void>;
}

export interface MonitorOptions {
  tool: 'ip' | 'bridge';
  /** After `monitor`, e.g. ['link', 'route'] or ['fdb']; for `ip`, include `route` (the marker is a route). */
  args: string[];
  /** The device the marker goes on: one of the test's own, never the overlay device. */
  dev: string;
}

/** A marker change for the n-th barrier (198.18.0.0/15 is a benchmarking range; 02:00:5e:... a local MAC). */
function marker(options: MonitorOptions, n: number): { add: string[]; del: string[]; seen: string } {
  if (options.tool === 'ip') {
    const dst = `198.18.${n % 250}.0/24`;
    return { add: ['ip', 'route', 'add', dst, 'dev', options.dev], del: ['ip', 'route', 'del', dst, 'dev', options.dev], seen: dst };
  }
  const mac = `02:00:5e:00:53:${(n % 250).toString(16).padStart(2, '0')}`;
  return { add: ['bridge', 'fdb', 'add', mac, 'dev', options.dev, 'self', 'permanent'], del: ['bridge', 'fdb', 'del', mac, 'dev', options.dev, 'self'], seen: mac };
}

export async function startMonitor(ns: Netns, options: MonitorOptions): Promise<KernelMonitor> {
  const proc = ns.spawn(options.tool, ['monitor', ...options.args]);
  let output = '';
  proc.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  let count = 0;
  const barrier = async (): Promise<void> => {
    count += 1;
    const m = marker(options, count);
    let present = false;
    try {
      await waitFor(`${options.tool} monitor reports marker ${m.seen}`, async () => {
        if (proc.exitCode !== null) throw new Error(`${options.tool} monitor exited (${proc.exitCode})`);
        if (output.includes(m.seen)) return true;
        const [cmd = '', ...args] = present ? m.del : m.add;
        await ns.must(cmd, args);
        present = !present;
        return false;
      }, 20_000, 100);
    } finally {
      const [cmd = '', ...args] = m.del;
      if (present) await ns.run(cmd, args);
    }
  };
  try {
    await barrier();
  } catch (err) {
    proc.kill();
    throw err;
  }
  return {
    get output() {
      return output;
    },
    barrier,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill();
      await exited;
    },
  };
}
