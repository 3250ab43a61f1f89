/**
 * The udp-batch addon's exports against bad arguments: wrong types, wrong sizes, objects that are not
 * its handles (among them an object another addon wrapped: without the type tag it would be taken for
 * a socket and its memory read as one), closed handles. Each call must throw a TypeError, RangeError or
 * coded Error with a message naming the argument, never crash, and leave the socket working. Run in a
 * child process, so a crash is a failed assertion rather than a dead runner (and, under
 * scripts/test-native-sanitized.sh, the sanitized addon in an ASan process).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { loadUdpBatch } from '../../src/dns/udp-batch.js';

interface Outcome {
  returned?: string;
  name?: string;
  code?: string;
  message?: string;
}

/** Every call the child makes, by label; the child prints what each returned or threw. */
const SCRIPT = `
const ub = require(process.env.ADDON);
const gypBuild = require('node-gyp-build');
const netlink = gypBuild(require('node:path').dirname(require.resolve('netlink/package.json')));
const dgram = require('node:dgram');
const out = {};
const attempt = (label, fn) => {
  try { out[label] = { returned: String(fn()) }; } catch (e) { out[label] = { name: e.name, code: e.code, message: e.message }; }
};
const fn = () => {};
let echoed = 0;
const self = {};
const h = ub.open('127.0.0.1', 0, 0, (count) => {
  const w = self.h.metaSize / 4;
  new Uint8Array(self.h.output).set(new Uint8Array(self.h.input, 0, new Uint32Array(self.h.inputMeta)[0]));
  new Uint32Array(self.h.outputMeta).set(new Uint32Array(self.h.inputMeta, 0, w));
  echoed += ub.send(self.h, 1);
});
self.h = h;
const foreign = new netlink.NativeNetlink(0, 0, fn, fn);
const address = new Uint8Array(h.metaSize - 8);

attempt('open()', () => ub.open());
attempt('open(host number)', () => ub.open(53, 0, 0, fn));
attempt('open(host too long)', () => ub.open('127.0.0.1' + ' '.repeat(100), 0, 0, fn));
attempt('open(host with NUL)', () => ub.open('127.0.0.1\\0.evil', 0, 0, fn));
attempt('open(host name)', () => ub.open('localhost', 0, 0, fn));
attempt('open(port string)', () => ub.open('127.0.0.1', '53', 0, fn));
attempt('open(port 1.5)', () => ub.open('127.0.0.1', 1.5, 0, fn));
attempt('open(port NaN)', () => ub.open('127.0.0.1', NaN, 0, fn));
attempt('open(port -1)', () => ub.open('127.0.0.1', -1, 0, fn));
attempt('open(port 65536)', () => ub.open('127.0.0.1', 65536, 0, fn));
attempt('open(bufferBytes -1)', () => ub.open('127.0.0.1', 0, -1, fn));
attempt('open(bufferBytes 2^31)', () => ub.open('127.0.0.1', 0, 2 ** 31, fn));
attempt('open(onBatch string)', () => ub.open('127.0.0.1', 0, 0, 'fn'));

attempt('send()', () => ub.send());
attempt('send(plain object)', () => ub.send({}, 0));
attempt('send(copy of a handle)', () => ub.send({ ...h }, 0));
attempt('send(object inheriting a handle)', () => ub.send(Object.create(h), 0));
attempt('send(typed array)', () => ub.send(new Uint8Array(64), 0));
attempt('send(another addon\\'s object)', () => ub.send(foreign, 0));
attempt('send(count string)', () => ub.send(h, '1'));
attempt('send(count 65)', () => ub.send(h, 65));
attempt('send(count -1)', () => ub.send(h, -1));
attempt('send(count 1.5)', () => ub.send(h, 1.5));

attempt('sendTo(payload string)', () => ub.sendTo(h, 'x', address));
attempt('sendTo(address Uint16Array)', () => ub.sendTo(h, new Uint8Array(1), new Uint16Array(20)));
attempt('sendTo(address 8 bytes)', () => ub.sendTo(h, new Uint8Array(1), new Uint8Array(8)));
attempt('sendTo(address 41 bytes)', () => ub.sendTo(h, new Uint8Array(1), new Uint8Array(41)));
attempt('sendTo(another addon\\'s object)', () => ub.sendTo(foreign, new Uint8Array(1), address));

attempt('close(plain object)', () => ub.close({}));
attempt('close(another addon\\'s object)', () => ub.close(foreign));
attempt('counters(null)', () => ub.counters(null));

attempt('enableMemo(epoch array)', () => ub.enableMemo(h, [1], new Float64Array(1)));
attempt('enableMemo(epoch Int32Array)', () => ub.enableMemo(h, new Int32Array(1), new Float64Array(1)));
attempt('enableMemo(epoch empty)', () => ub.enableMemo(h, new Uint32Array(0), new Float64Array(1)));
attempt('enableMemo(bounds Float32Array)', () => ub.enableMemo(h, new Uint32Array(1), new Float32Array(1)));
attempt('enableMemo(17 bounds)', () => ub.enableMemo(h, new Uint32Array(1), new Float64Array(17)));
attempt('enableMemo(good)', () => Object.keys(ub.enableMemo(h, new Uint32Array([1]), new Float64Array(3))).join(','));
attempt('enableMemo(twice)', () => ub.enableMemo(h, new Uint32Array([1]), new Float64Array(3)));

// After all that, the socket still echoes a datagram.
const client = dgram.createSocket('udp4');
client.on('message', (m) => {
  out['echo'] = { returned: m.toString() + ' ' + echoed };
  client.close();
  const closed = ub.open('127.0.0.1', 0, 0, fn);
  ub.close(closed);
  attempt('send(closed)', () => ub.send(closed, 0));
  attempt('sendTo(closed)', () => ub.sendTo(closed, new Uint8Array(1), address));
  attempt('enableMemo(closed)', () => ub.enableMemo(closed, new Uint32Array([1]), new Float64Array(1)));
  attempt('close(closed)', () => ub.close(closed));
  // Once the poll handle has gone too (the next loop turn), nothing changes.
  setImmediate(() => {
    attempt('enableMemo(closed, handle gone)', () => ub.enableMemo(closed, new Uint32Array([1]), new Float64Array(1)));
    attempt('counters(closed)', () => ub.counters(closed).open);
    ub.close(h);
    foreign.close();
    console.log(JSON.stringify(out));
  });
});
client.send('ping', h.port, '127.0.0.1');
setTimeout(() => { console.log(JSON.stringify(out)); process.exit(3); }, 10_000).unref();
`;

const TYPE = 'TypeError';
const RANGE = 'RangeError';
const HANDLE = /udp_batch\.\w+: the first argument must be a socket handle from udp_batch\.open\(\)/;

/** label -> [error class, message pattern] */
const EXPECTED: Record<string, [string, RegExp]> = {
  'open()': [TYPE, /udp_batch\.open: expected \(host, port, bufferBytes, onBatch\)/],
  'open(host number)': [TYPE, /host must be a string/],
  'open(host too long)': [TYPE, /host is not an IP address/],
  'open(host with NUL)': [TYPE, /host is not an IP address/],
  'open(host name)': [TYPE, /host is not an IP address/],
  'open(port string)': [TYPE, /port must be a number/],
  'open(port 1.5)': [RANGE, /port must be an integer from 0 to 65535 \(got 1\.5\)/],
  'open(port NaN)': [RANGE, /port must be an integer from 0 to 65535 \(got nan\)/],
  'open(port -1)': [RANGE, /port must be an integer from 0 to 65535/],
  'open(port 65536)': [RANGE, /port must be an integer from 0 to 65535/],
  'open(bufferBytes -1)': [RANGE, /bufferBytes must be an integer from 0 to 1073741824/],
  'open(bufferBytes 2^31)': [RANGE, /bufferBytes must be an integer from 0 to 1073741824/],
  'open(onBatch string)': [TYPE, /onBatch must be a function/],
  'send()': [TYPE, /udp_batch\.send: expected \(handle, count\)/],
  'send(plain object)': [TYPE, HANDLE],
  'send(copy of a handle)': [TYPE, HANDLE],
  'send(object inheriting a handle)': [TYPE, HANDLE],
  'send(typed array)': [TYPE, HANDLE],
  "send(another addon's object)": [TYPE, HANDLE],
  'send(count string)': [TYPE, /count must be a number/],
  'send(count 65)': [RANGE, /count must be an integer from 0 to 64/],
  'send(count -1)': [RANGE, /count must be an integer from 0 to 64/],
  'send(count 1.5)': [RANGE, /count must be an integer from 0 to 64/],
  'sendTo(payload string)': [TYPE, /payload must be a Uint8Array/],
  'sendTo(address Uint16Array)': [TYPE, /address must be a Uint8Array/],
  'sendTo(address 8 bytes)': [RANGE, /address must be 40 bytes .* not 8/],
  'sendTo(address 41 bytes)': [RANGE, /address must be 40 bytes .* not 41/],
  "sendTo(another addon's object)": [TYPE, HANDLE],
  'close(plain object)': [TYPE, HANDLE],
  "close(another addon's object)": [TYPE, HANDLE],
  'counters(null)': [TYPE, HANDLE],
  'enableMemo(epoch array)': [TYPE, /epoch must be a Uint32Array/],
  'enableMemo(epoch Int32Array)': [TYPE, /epoch must be a Uint32Array/],
  'enableMemo(epoch empty)': [RANGE, /epoch must have at least one element/],
  'enableMemo(bounds Float32Array)': [TYPE, /latencyBoundsMicros must be a Float64Array/],
  'enableMemo(17 bounds)': [RANGE, /17 bounds, at most 16/],
  'enableMemo(twice)': ['Error', /already enabled on this socket/],
  'send(closed)': ['Error', /udp_batch\.send: the socket is closed/],
  'sendTo(closed)': ['Error', /udp_batch\.sendTo: the socket is closed/],
  'enableMemo(closed)': ['Error', /udp_batch\.enableMemo: the socket is closed/],
  'enableMemo(closed, handle gone)': ['Error', /udp_batch\.enableMemo: the socket is closed/],
};

void describe('dns udp-batch addon: bad arguments', () => {
  void test('every export throws a clear TypeError/RangeError/Error for bad arguments and closed handles, and the socket keeps working', () => {
    const load = loadUdpBatch();
    assert.ok(load.addon !== undefined, `the udp-batch addon loads: ${'reason' in load ? load.reason : ''}`);
    const r = spawnSync(process.execPath, ['-e', SCRIPT], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ADDON: load.path } });
    assert.equal(r.signal, null, `no crash: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, Outcome>;
    for (const [label, [name, message]] of Object.entries(EXPECTED)) {
      const got = out[label];
      assert.ok(got !== undefined, `${label} was called`);
      assert.equal(got.name, name, `${label}: ${JSON.stringify(got)}`);
      assert.match(got.message ?? '', message, label);
    }
    const closedErrors = ['send(closed)', 'sendTo(closed)', 'enableMemo(closed)', 'enableMemo(closed, handle gone)'];
    for (const label of closedErrors) assert.equal(out[label]?.code, 'ERR_SOCKET_DGRAM_NOT_RUNNING', label);
    assert.equal(out['enableMemo(good)']?.returned, 'stats,ttls');
    assert.equal(out['close(closed)']?.returned, 'undefined', 'closing twice is harmless');
    assert.equal(out['counters(closed)']?.returned, '0', 'a closed handle still reports its counters');
    assert.equal(out['echo']?.returned, 'ping 1', 'the socket answered after every bad call');
  });
});
