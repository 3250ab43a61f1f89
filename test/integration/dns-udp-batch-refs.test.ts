/**
 * The buffers the addon's C code points into stay alive exactly as long as it can touch them: with
 * JavaScript holding none of them (the socket handle only through a WeakRef, the epoch array, the
 * memo's statistics and TTL buffers not at all), forced garbage collections while traffic flows through
 * both the JS path and the reply memo collect nothing; once the socket is closed, all of it is
 * collected (the addon's references are released: nothing is kept alive forever). In a child process
 * with --expose-gc; under scripts/test-native-sanitized.sh a C access to anything freed is an ASan
 * report that fails the run.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadUdpBatch } from '../../src/dns/udp-batch.js';
import { UDP_BATCH_LAYOUT as L } from '../../src/dns/udp-batch-layout.js';

const SCRIPT = `
const ub = require(process.env.ADDON);
const L = JSON.parse(process.env.LAYOUT);
const dgram = require('node:dgram');
const collected = new Set();
const registry = new FinalizationRegistry((name) => collected.add(name));
const turn = () => new Promise((r) => setImmediate(r));
const deadline = Date.now() + 40_000;
const check = (ok, what) => { if (!ok) { console.log(JSON.stringify({ failed: what })); process.exit(2); } };

// Garbage in between collections, so freed memory is handed out again.
let churn = [];
async function collect() {
  for (let i = 0; i < 3; i++) {
    churn = Array.from({ length: 64 }, () => new ArrayBuffer(64 * 1024));
    global.gc();
    await turn();
  }
  churn = [];
}

let weakHandle, weakStats;
let jsAnswered = 0;
(function open() {
  // Nothing below is kept by JS once this function returns, except through WeakRefs.
  const h = ub.open('127.0.0.1', 0, 0, (count) => {
    const s = weakHandle.deref();
    const input = new Uint8Array(s.input), output = new Uint8Array(s.output);
    const inMeta = new Uint32Array(s.inputMeta), outMeta = new Uint32Array(s.outputMeta);
    const ttls = new Uint16Array(ttlsBuffer.deref());
    const w = s.metaSize / 4;
    let n = 0;
    for (let i = 0; i < count; i++) {
      if (inMeta[i * w + L.metaFlags] !== 0) continue;
      const len = inMeta[i * w + L.metaLength];
      output.set(input.subarray(i * s.slotSize, i * s.slotSize + len), n * s.slotSize);
      outMeta.set(inMeta.subarray(i * w, (i + 1) * w), n * w);
      // Half kept as fixed answers, half as expiring ones with a TTL report (no offsets): both memo paths.
      const fixed = i % 2 === 0;
      outMeta[n * w + L.metaMemo] = L.memoKeep | (fixed ? L.memoFixed : 0) | (i << L.memoSlotShift);
      const t = n * L.ttlWords;
      ttls[t + L.ttlCount] = 0;
      ttls[t + L.ttlExpiryLow] = 0xffff;
      ttls[t + L.ttlExpiryHigh] = 0x7fff;
      n++;
    }
    jsAnswered += ub.send(s, n);
  });
  const epoch = new Uint32Array([1]);
  const shared = ub.enableMemo(h, epoch, new Float64Array([100, 1000]));
  weakHandle = new WeakRef(h);
  weakStats = new WeakRef(shared.stats);
  ttlsBuffer = new WeakRef(shared.ttls);
  for (const [name, value] of [['handle', h], ['input', h.input], ['inputMeta', h.inputMeta], ['output', h.output], ['outputMeta', h.outputMeta], ['epoch', epoch], ['stats', shared.stats], ['ttls', shared.ttls]]) {
    registry.register(value, name);
  }
})();
var ttlsBuffer;

const client = dgram.createSocket('udp4');
const port = weakHandle.deref().port;
let replies = 0;
client.on('message', () => { replies++; });
async function burst(round) {
  const want = replies + 64;
  for (let i = 0; i < 64; i++) {
    const q = Buffer.alloc(24, 0x41 + (i % 26));
    q.writeUInt16BE(round * 64 + i, 0);
    q.writeUInt16BE(i, 4); // query bytes after the ID: the same in every round, so repeats hit the memo
    client.send(q, port, '127.0.0.1');
  }
  while (replies < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  check(replies >= want, 'round ' + round + ': ' + replies + ' replies of ' + want);
}

(async () => {
  const rounds = 6;
  for (let round = 0; round < rounds; round++) {
    await burst(round);
    await collect();
  }
  const whileOpen = [...collected];
  const memoAnswered = new Float64Array(weakStats.deref())[L.statsAnswered];
  ub.close(weakHandle.deref());
  client.close();
  // The poll handle closes on the next turn; then the addon's references go and all of it can be collected.
  while (collected.size < 8 && Date.now() < deadline) await collect();
  console.log(JSON.stringify({ whileOpen, afterClose: [...collected].sort(), jsAnswered, memoAnswered, replies, rounds }));
})();
`;

void describe('dns udp-batch addon: references under garbage collection', () => {
  void test('what C points into survives forced collections while the socket runs, and is all collected after close', () => {
    const load = loadUdpBatch();
    assert.ok(load.addon !== undefined, `the udp-batch addon loads: ${'reason' in load ? load.reason : ''}`);
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', SCRIPT], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ADDON: load.path, LAYOUT: JSON.stringify(L) },
    });
    assert.equal(r.signal, null, `no crash: ${r.stderr}`);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(r.stdout) as { whileOpen: string[]; afterClose: string[]; jsAnswered: number; memoAnswered: number; replies: number; rounds: number };
    assert.deepEqual(out.whileOpen, [], 'nothing the addon uses was collected while the socket was open');
    assert.equal(out.replies, out.rounds * 64);
    assert.equal(out.jsAnswered + out.memoAnswered, out.replies);
    // The first round goes through JS; repeats come from the memo (which read the epoch and TTL report
    // and wrote the stats), except in a batch a clock second began in (not kept: then the next round).
    assert.ok(out.jsAnswered >= 64 && out.memoAnswered >= (out.rounds - 2) * 64, `JS ${out.jsAnswered}, memo ${out.memoAnswered}`);
    assert.deepEqual(out.afterClose, ['epoch', 'handle', 'input', 'inputMeta', 'output', 'outputMeta', 'stats', 'ttls'], 'all of it collectable once closed');
  });
});
