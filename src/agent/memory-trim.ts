/**
 * One full garbage collection after a burst of one-off work (start-up, a reload). Parsing a config
 * with thousands of peers and the first convergence leave tens of MB of garbage that V8 keeps mapped
 * for a long time: an idle daemon rarely reaches a major GC on its own. The role of Go's
 * debug.FreeOSMemory in flanneld-style daemons.
 *
 * The first trim also turns on V8's `--optimize-for-size`, which keeps the old generation close to
 * the live size as resyncs churn it. It is not a launcher flag because from the start it makes the
 * start-up itself collect more (~0.1 s of a start with 5000 peers); V8 reads it at each heap-sizing
 * decision, so setting it once the start is done is enough.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../log.js';

type Collect = () => void;
let collect: Collect | null | undefined;

function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--optimize-for-size');
    // `gc` appears only in contexts created after the flag is set, hence the fresh context.
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    collect = typeof fn === 'function' ? (fn as Collect) : null;
  } catch {
    collect = null;
  }
  return collect;
}

let timer: NodeJS.Timeout | undefined;

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);

/** Collects once, `delayMs` after the last call (bursts of calls collect once). Never keeps the process alive. */
export function scheduleMemoryTrim(log: Logger, delayMs = 1000): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = setTimeout(() => {
    timer = undefined;
    const gc = collector();
    if (gc === null) return;
    const before = process.memoryUsage().heapUsed;
    // Twice: the first pass runs the finalizers of native buffers (netlink's receive buffers),
    // the second frees what they held. V8 returns the emptied pages to the OS shortly after.
    gc();
    gc();
    log.debug({ heapUsedBeforeMb: mb(before), heapUsedAfterMb: mb(process.memoryUsage().heapUsed) }, 'memory trimmed');
  }, delayMs);
  timer.unref();
}

export function cancelMemoryTrim(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
}
