/**
 * The native batched UDP socket (native/udp-batch, src/dns/udp-batch.ts): the addon itself on
 * loopback (batches, per-peer replies, bind errors with codes, oversize datagrams, a throwing
 * callback, close inside a callback, no fd leak), then the agent on both UDP paths under a burst
 * several batches long from several clients mixing local and forwarded answers, and a reply too
 * big for an arena slot.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { loadUdpBatch, type UdpBatchAddon, type UdpBatchHandle } from '../../src/dns/udp-batch.js';
import { dig, dnsStatus, startDnsmasq } from './dns-fixture.js';

function addon(): { addon: UdpBatchAddon; path: string } {
  const load = loadUdpBatch();
  assert.ok(load.addon !== undefined, `the udp-batch addon loads (scripts/bootstrap.sh builds it): ${'reason' in load ? load.reason : ''}`);
  return load;
}

/** An echo server on the addon: every datagram goes back to its sender through the output arena. */
function echo(ub: UdpBatchAddon, host: string, onBatch?: (count: number) => void): UdpBatchHandle {
  const self: { h?: UdpBatchHandle } = {};
  self.h = ub.open(host, 0, 1 << 20, (count) => {
    const h = self.h!;
    onBatch?.(count);
    const input = new Uint8Array(h.input);
    const output = new Uint8Array(h.output);
    const inMeta = new Uint32Array(h.inputMeta);
    const outMeta = new Uint32Array(h.outputMeta);
    const w = h.metaSize / 4;
    for (let i = 0; i < count; i++) {
      output.set(input.subarray(i * h.slotSize, i * h.slotSize + inMeta[i * w]!), i * h.slotSize);
      for (let k = 0; k < w; k++) outMeta[i * w + k] = inMeta[i * w + k]!;
    }
    ub.send(h, count);
  });
  return self.h;
}

/**
 * Each client keeps `window` datagrams in flight (together several batches, within socket buffers).
 * The first windows are all sent before this process's event loop polls again, so the addon, on the
 * same loop, finds them queued together: several datagrams per batch whatever the machine's speed.
 */
async function roundTrip(host: string, port: number, clients: number, perClient: number, window: number): Promise<{ sent: number; back: number; misrouted: number }> {
  const sockets = Array.from({ length: clients }, () => dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4'));
  let back = 0;
  let misrouted = 0;
  const next = sockets.map(() => 0);
  const sendOne = (c: number): void => {
    if (next[c]! < perClient) sockets[c]!.send(`c${c}-${next[c]!++}`, port, host);
  };
  sockets.forEach((s, c) =>
    s.on('message', (m) => {
      if (!m.toString().startsWith(`c${c}-`)) misrouted += 1;
      back += 1;
      sendOne(c);
    }),
  );
  try {
    for (let c = 0; c < clients; c++) for (let i = 0; i < window; i++) sendOne(c);
    await waitFor(`${clients * perClient} echoes`, () => back === clients * perClient, 30_000, 5);
  } finally {
    for (const s of sockets) s.close();
  }
  return { sent: clients * perClient, back, misrouted };
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

void describe('dns udp-batch addon (loopback)', () => {
  void test('echoes bursts of several batches to the right peers, over IPv4 and IPv6', async () => {
    const { addon: ub } = addon();
    for (const host of ['127.0.0.1', '::1']) {
      let batches = 0;
      const h = echo(ub, host, () => (batches += 1));
      try {
        assert.ok(h.port > 0);
        // 4 x 64 in flight: bursts of several batches.
        const r = await roundTrip(host, h.port, 4, 10 * h.slots, h.slots);
        assert.deepEqual(r, { sent: 40 * h.slots, back: 40 * h.slots, misrouted: 0 }, host);
        assert.ok(batches < r.sent, `several datagrams per JS call (${batches} batches for ${r.sent})`);
        assert.equal(ub.counters(h).received, r.sent);
      } finally {
        ub.close(h);
      }
    }
  });

  void test('bind errors carry their code; close frees the port at once; nothing leaks over 500 sockets', async () => {
    const { addon: ub } = addon();
    const h = ub.open('127.0.0.1', 0, 0, () => undefined);
    const port = h.port;
    assert.throws(() => ub.open('127.0.0.1', port, 0, () => undefined), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE' && err.syscall === 'bind' && err.message.includes(`127.0.0.1:${port}`));
    assert.throws(() => ub.open('not-an-ip', 53, 0, () => undefined), /not an IP address/);
    ub.close(h);
    ub.close(h); // twice is harmless
    const again = ub.open('127.0.0.1', port, 0, () => undefined);
    ub.close(again);
    const before = openFds();
    for (let i = 0; i < 500; i++) ub.close(ub.open('127.0.0.1', 0, 1 << 16, () => undefined));
    await new Promise((r) => setImmediate(r)); // the uv handles close on the next loop turn
    assert.ok(openFds() <= before + 2, `fds before ${before}, after ${openFds()}`);
  });

  void test('a datagram longer than a slot is flagged truncated, not delivered cut', async () => {
    const { addon: ub } = addon();
    const flags: number[] = [];
    const self: { h?: UdpBatchHandle } = {};
    self.h = ub.open('127.0.0.1', 0, 0, (count) => {
      const meta = new Uint32Array(self.h!.inputMeta);
      for (let i = 0; i < count; i++) flags.push(meta[i * (self.h!.metaSize / 4) + 1]!);
    });
    const h = self.h;
    const client = dgram.createSocket('udp4');
    try {
      client.send(Buffer.alloc(h.slotSize + 100), h.port, '127.0.0.1');
      client.send(Buffer.alloc(100), h.port, '127.0.0.1');
      await waitFor('both datagrams', () => flags.length >= 2, 10_000, 5);
      assert.deepEqual(flags, [1, 0]);
      assert.equal(ub.counters(h).truncated, 1);
    } finally {
      client.close();
      ub.close(h);
    }
  });

  // In a child process: what happens there would otherwise take the test runner down.
  const child = (body: string): { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } => {
    const script = `
      const ub = require(${JSON.stringify(addon().path)});
      const dgram = require('node:dgram');
      const client = dgram.createSocket('udp4');
      const send = (h, text) => client.send(text, h.port, '127.0.0.1');
      ${body}`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  };

  void test('a throw in the batch callback is an uncaughtException (not an abort); the socket keeps working', () => {
    const handled = child(`
      let batches = 0;
      process.on('uncaughtException', (err) => console.log('uncaught ' + err.message));
      const h = ub.open('127.0.0.1', 0, 0, () => {
        batches += 1;
        Promise.resolve().then(() => console.log('microtask ' + batches));
        if (batches === 1) { setImmediate(() => send(h, 'b')); throw new Error('boom'); }
        console.log('batch ' + batches); ub.close(h); client.close();
      });
      send(h, 'a');`);
    assert.equal(handled.code, 0, handled.stderr);
    assert.deepEqual(handled.stdout.trim().split('\n'), ['uncaught boom', 'microtask 1', 'batch 2', 'microtask 2']);
    const unhandled = child(`const h = ub.open('127.0.0.1', 0, 0, () => { throw new Error('boom'); }); send(h, 'a');`);
    assert.equal(unhandled.signal, null, 'no abort');
    assert.equal(unhandled.code, 1);
    assert.match(unhandled.stderr, /Error: boom/);
  });

  void test('closing inside the callback is safe and lets the process exit', () => {
    const r = child(`const h = ub.open('127.0.0.1', 0, 0, (n) => { ub.close(h); client.close(); console.log('closed after ' + n); }); send(h, 'a');`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'closed after 1');
  });
});

const AGENT = '127.0.0.1';
const UPSTREAM = '127.0.0.3';
const MANY = Array.from({ length: 300 }, (_, i) => `10.77.${i >> 8}.${i & 255}`);

/**
 * 4 clients x 400 queries, alternating a dns.hosts name and distinct forwarded names, each client
 * keeping 50 in flight: 200 queued at once, several batches, yet within a default socket buffer
 * (net.core.rmem_max caps SO_RCVBUF; UDP may drop beyond it, which is not what this tests).
 */
const BURST = `
const dgram = require('node:dgram');
const CLIENTS = 4, PER = 400, WINDOW = 50;
const query = (id, name) => {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const head = Buffer.alloc(12); head.writeUInt16BE(id, 0); head.writeUInt16BE(0x0100, 2); head.writeUInt16BE(1, 4);
  return Buffer.concat([head, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
};
let ok = 0, wrong = 0, left = CLIENTS * PER;
const finish = () => { console.log(JSON.stringify({ ok, wrong, unanswered: left })); process.exit(0); };
// Done as soon as every query is answered; the deadline only reports what never was.
setTimeout(finish, 60000);
for (let c = 0; c < CLIENTS; c++) {
  const sock = dgram.createSocket('udp4');
  const pending = new Map();
  let next = 0;
  const sendOne = () => {
    if (next >= PER) return;
    const id = c * PER + next; // unique across clients: a reply to the wrong client is caught
    const local = next++ % 2 === 0;
    pending.set(id, local ? '192.168.0.62' : '93.184.215.14');
    sock.send(query(id, local ? 'istio-pilot' : 'n' + id + '.example.com'), 53, '${AGENT}');
  };
  sock.on('message', (m) => {
    const want = pending.get(m.readUInt16BE(0));
    if (want === undefined || m.subarray(m.length - 4).join('.') !== want) wrong++; else ok++;
    pending.delete(m.readUInt16BE(0));
    if (--left === 0) finish();
    sendOne();
  });
  for (let i = 0; i < WINDOW; i++) sendOne();
}`;

for (const udp of ['batch', 'dgram'] as const) {
  // The sanitized run (scripts/test-native-sanitized.sh) is about the addon; the dgram path has none.
  const skip = udp === 'dgram' && process.env['MNA_UDP_BATCH_ADDON'] !== undefined ? 'no native code on the dgram path to sanitize' : false;
  void describe(`dns listener under bursts (UDP ${udp})`, { skip }, () => {
    let ns: Netns;
    let agent: AgentHandle;

    before(async () => {
      ns = await createNetns('dnsf');
      await startDnsmasq(ns, UPSTREAM, ['--address=/example.com/93.184.215.14', '--address=/#/', '--dns-forward-max=10000']);
      agent = await startAgent({
        ns,
        env: { MNA_DNS_UDP: udp },
        config: { dns: { enabled: true, listen: [`${AGENT}:53`], upstreams: [UPSTREAM], hosts: [{ name: 'istio-pilot', addresses: ['192.168.0.62'] }, { name: 'many.test', addresses: MANY }] } },
      });
      await agent.waitReady();
    });

    after(async () => {
      await agent?.cleanup();
      await ns?.destroy();
    });

    void test(`the agent serves UDP through the ${udp} path (and says why when it is dgram)`, async () => {
      assert.deepEqual((await dnsStatus(agent)).listeners.map((l) => l.udp), [udp]);
      const fallbackLogs = agent.logs().split('\n').filter((l) => l.includes('not the batched native socket'));
      if (udp === 'dgram') {
        assert.equal(fallbackLogs.length, 1, 'logged once');
        assert.match(fallbackLogs[0]!, /MNA_DNS_UDP=dgram/);
      } else assert.deepEqual(fallbackLogs, []);
    });

    void test('1600 queries from 4 clients, 200 in flight, half answered locally and half forwarded, all reach the right client', async () => {
      const r = JSON.parse(await ns.must(process.execPath, ['-e', BURST])) as { ok: number; wrong: number; unanswered: number };
      assert.deepEqual(r, { ok: 1600, wrong: 0, unanswered: 0 });
      assert.deepEqual((await dig(ns, AGENT, 'istio-pilot')).answers, ['istio-pilot. A 192.168.0.62']);
    });

    void test('a UDP reply bigger than an arena slot (300 records, EDNS 65000) arrives whole', async () => {
      const r = await dig(ns, AGENT, 'many.test', 'A', ['+bufsize=65000']);
      assert.equal(r.answers.length, 300);
      assert.ok(!r.flags.includes('tc'), `no truncation: ${r.flags.join(' ')}`);
      const small = await dig(ns, AGENT, 'many.test', 'A', ['+bufsize=1232', '+ignore']);
      assert.ok(small.flags.includes('tc'), 'fitted to a smaller client');
    });
  });
}
