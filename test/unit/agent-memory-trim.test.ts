import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { cancelMemoryTrim, scheduleMemoryTrim } from '../../src/agent/memory-trim.js';
import { createLogger } from '../../src/log.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { log: createLogger({ level: 'debug', destination: stream }), lines: () => text.split('\n').filter((l) => l !== '') };
}

/** Garbage reachable only through a WeakRef made in an earlier task (a WeakRef target lives to the end of its task). */
async function garbage(): Promise<WeakRef<object>> {
  // Big enough for V8's large-object space: only a full collection frees it, not a scavenge.
  const ref = new WeakRef(new Array(200_000).fill('x'));
  await sleep(1);
  return ref;
}

test('a scheduled trim collects garbage without --expose-gc on the command line, once per burst', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the test process must not expose gc itself');
  const { log, lines } = capture();
  const ref = await garbage();
  scheduleMemoryTrim(log, 20);
  scheduleMemoryTrim(log, 20);
  await sleep(200);
  assert.equal(ref.deref(), undefined, 'the unreachable object was collected');
  const trims = lines().filter((l) => l.includes('memory trimmed'));
  assert.equal(trims.length, 1, lines().join('\n'));
  assert.match(trims[0] ?? '', /"heapUsedAfterMb":\d+/);
});

test('a cancelled trim does not run', async () => {
  const { log, lines } = capture();
  scheduleMemoryTrim(log, 20);
  cancelMemoryTrim();
  await sleep(100);
  assert.deepEqual(lines(), []);
});
