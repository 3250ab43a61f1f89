/**
 * The scheduled full collection, with real timers and a real GC. No fixed waits: each test waits for
 * the trim's own log line, or for a barrier timer due after the trim's (Node runs timers in order of
 * expiry, so when the barrier fires every timer due before it has run, however loaded the machine).
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { cancelMemoryTrim, scheduleMemoryTrim } from '../../src/agent/memory-trim.js';
import { createLogger } from '../../src/log.js';
import { waitFor } from '../helpers/exec.js';

function capture(): { log: ReturnType<typeof createLogger>; trims: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { log: createLogger({ level: 'debug', destination: stream }), trims: () => text.split('\n').filter((l) => l.includes('memory trimmed')) };
}

/** Garbage reachable only through a WeakRef made in an earlier task (a WeakRef target lives to the end of its task). */
async function garbage(): Promise<WeakRef<object>> {
  // Big enough for V8's large-object space: only a full collection frees it, not a scavenge.
  const ref = new WeakRef(new Array(200_000).fill('x'));
  await sleep(1);
  return ref;
}

/** Resolves once every timer due within `ms` from now has run (an ordering barrier, not a guess at a duration). */
const timersDueWithin = (ms: number): Promise<void> => sleep(ms + 1);

test('a scheduled trim collects garbage without --expose-gc on the command line, once per burst', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the test process must not expose gc itself');
  const { log, trims } = capture();
  const ref = await garbage();
  scheduleMemoryTrim(log, 20);
  scheduleMemoryTrim(log, 20);
  await waitFor('the trim', () => trims().length > 0, 10_000, 5);
  assert.equal(ref.deref(), undefined, 'the unreachable object was collected');
  assert.match(trims()[0] ?? '', /"heapUsedAfterMb":\d+/);
  // A second trim from the burst would be due no later than the first; wait past it, then count.
  await timersDueWithin(20);
  assert.equal(trims().length, 1, trims().join('\n'));
});

test('a cancelled trim does not run; a later one does', async () => {
  const { log, trims } = capture();
  scheduleMemoryTrim(log, 20);
  cancelMemoryTrim();
  await timersDueWithin(20);
  assert.deepEqual(trims(), []);
  scheduleMemoryTrim(log, 20);
  await waitFor('the trim after the cancelled one', () => trims().length > 0, 10_000, 5);
  assert.equal(trims().length, 1);
});
