/**
 * Upstream replies as an attacker would race them, against the real agent with upstream servers the
 * test runs (dns-fake-upstream.ts, which logs every query it receives): source ports from a rotating
 * pool of random ports, each carrying a bounded number of queries; a reply under the ID of another
 * query waiting on the same port dropped; identical queries in flight sent upstream once; the
 * question's letter case randomized (0x20) with a reply of the wrong case dropped; a server that
 * lowercases still answering.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { UDP_PORT_QUERIES } from '../../src/dns/udp-port-pool.js';
import { REPO_ROOT, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { dig, dnsStatus } from './dns-fixture.js';

const AGENT = '127.0.0.1';
const ECHO = '127.0.0.21';
const LOWER = '127.0.0.22';
const SPOOF = '127.0.0.23';
const HOLD = '127.0.0.24';
const SWAP = '127.0.0.25';
const SCRIPTS = join(REPO_ROOT, 'test/integration');

interface Seen {
  port: number;
  id: number;
  name: string;
}

interface FakeUpstream {
  proc: ChildProcess;
  seen: Seen[];
  /** swap mode: the source ports on which two waiting queries were sent each other's ID. */
  crossed: number[];
}

async function fakeUpstream(ns: Netns, address: string, mode: string): Promise<FakeUpstream> {
  const proc = ns.spawn(process.execPath, ['--import', 'tsx', join(SCRIPTS, 'dns-fake-upstream.ts'), address, '53', mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  const seen: Seen[] = [];
  const crossed: number[] = [];
  let ready = false;
  let partial = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') ready = true;
      else if (line.startsWith('{"crossed"')) crossed.push((JSON.parse(line) as { crossed: number }).crossed);
      else if (line.startsWith('{')) seen.push(JSON.parse(line) as Seen);
    }
  });
  await waitFor(`fake upstream ${address} (${mode})`, () => ready || (proc.exitCode !== null ? Promise.reject(new Error(`exited ${proc.exitCode}`)) : false), 15_000, 50);
  return { proc, seen, crossed };
}

interface UpstreamState {
  server: string;
  queries: number;
  caseEcho: string;
  caseMismatches: number;
}

async function upstream(agent: AgentHandle, address: string): Promise<UpstreamState> {
  const health = (await dnsStatus(agent)).upstreams.health as unknown as UpstreamState[];
  const found = health.find((h) => h.server === `${address}:53`);
  assert.ok(found !== undefined, `upstream ${address} in /status`);
  return found;
}

async function coalesced(agent: AgentHandle): Promise<number> {
  return ((await dnsStatus(agent)) as unknown as { coalesced: number }).coalesced;
}

void describe('dns upstream queries resist spoofing', () => {
  let ns: Netns;
  let agent: AgentHandle;
  const fakes = new Map<string, FakeUpstream>();

  before(async () => {
    ns = await createNetns('tdnspoof');
    for (const [address, mode] of [
      [ECHO, 'echo'],
      [LOWER, 'lower'],
      [SPOOF, 'spoof'],
      [HOLD, 'hold'],
      [SWAP, 'swap'],
    ] as const) {
      fakes.set(address, await fakeUpstream(ns, address, mode));
    }
    const forward = [
      { domain: 'lower.test', servers: [LOWER] },
      { domain: 'spoof.test', servers: [SPOOF] },
      { domain: 'hold.test', servers: [HOLD] },
      { domain: 'swap.test', servers: [SWAP] },
    ];
    agent = await startAgent({ ns, config: { dns: { enabled: true, listen: [`${AGENT}:53`], upstreams: [ECHO], forward } } });
    await agent.waitReady();
  });

  after(async () => {
    await agent?.cleanup();
    await ns?.destroy();
  });

  const burst = async (...args: string[]): Promise<string> => ns.must(process.execPath, ['--import', 'tsx', join(SCRIPTS, 'dns-query-burst.ts'), AGENT, '53', ...args]);

  void test('1000 upstream queries leave from random source ports, none carrying more than its budget, in mixed case, and are all answered', async () => {
    const result = JSON.parse(await burst('many', '1000', 'echo.test')) as { answered: number; byAddress: Record<string, number> };
    assert.equal(result.answered, 1000);
    assert.deepEqual(result.byAddress, { '10.0.0.1': 1000 });
    const seen = fakes.get(ECHO)!.seen.filter((s) => /^q\d+\.echo\.test$/i.test(s.name));
    assert.equal(seen.length, 1000, 'one upstream query per client query');
    const perPort = new Map<number, number>();
    for (const s of seen) perPort.set(s.port, (perPort.get(s.port) ?? 0) + 1);
    // A socket is retired after UDP_PORT_QUERIES queries (four fixed sockets carried 250 each).
    const busiest = Math.max(...perPort.values());
    assert.ok(busiest <= UDP_PORT_QUERIES, `at most ${UDP_PORT_QUERIES} queries per source port: one carried ${busiest}`);
    // Each port is the kernel's random pick from this namespace's ephemeral range. In order of first
    // use they are not a sequence (a counter would step by one), and they spread over the range: the
    // chance that 32 or more uniform picks span less than half of it is about 1e-8.
    const [low, high] = (await ns.must('cat', ['/proc/sys/net/ipv4/ip_local_port_range'])).trim().split(/\s+/).map(Number) as [number, number];
    const ports = [...perPort.keys()];
    assert.ok(ports.every((p) => p >= low && p <= high), `ports within ${low}-${high}: ${ports.join(' ')}`);
    const stepped = ports.slice(1).filter((p, i) => Math.abs(p - ports[i]!) < 8).length;
    assert.ok(stepped <= 2, `${stepped} ports within 8 of the one before: ${ports.join(' ')}`);
    const span = Math.max(...ports) - Math.min(...ports);
    assert.ok(span >= (high - low) / 2, `ports span ${span} of the ${high - low} the range holds: ${ports.join(' ')}`);
    const mixed = seen.filter((s) => /[a-z]/.test(s.name) && /[A-Z]/.test(s.name)).length;
    console.log(`upstream saw ${ports.length} source ports (at most ${busiest} queries each, spanning ${span}) and ${mixed} mixed-case names over 1000 queries`);
    assert.ok(mixed >= 950, `names in mixed case upstream: ${mixed} of 1000`);
    const u = await upstream(agent, ECHO);
    assert.equal(u.caseEcho, 'yes', 'the server echoes case: learned');
    assert.equal(u.caseMismatches, 0);
  });

  void test('a reply under the ID of another query waiting on the same source port is dropped: the question must match too', async () => {
    // The swap server, whenever two queries wait from one port, first answers each under the other's
    // ID with the other's question and 6.6.6.6, then for real: the agent must take only the real ones.
    const result = JSON.parse(await burst('many', '200', 'x.swap.test')) as { answered: number; byAddress: Record<string, number> };
    const crossed = fakes.get(SWAP)!.crossed.length;
    assert.ok(crossed >= 1, 'the server found two queries waiting on one port and crossed their IDs');
    assert.equal(result.answered, 200);
    assert.deepEqual(result.byAddress, { '10.0.0.1': 200 }, `no crossed reply taken (${crossed} pairs crossed)`);
  });

  void test('identical queries in flight go upstream once; every client gets its own ID and spelling', async () => {
    const before = await coalesced(agent);
    const clients = ns.spawn(process.execPath, ['--import', 'tsx', join(SCRIPTS, 'dns-query-burst.ts'), AGENT, '53', 'same', '20', 'same.hold.test']);
    let out = '';
    clients.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((resolve) => clients.on('exit', () => resolve()));
    try {
      // The held upstream query has 19 others waiting on it before it is released.
      await waitFor('19 queries joined the first', async () => (await coalesced(agent)) - before >= 19, 10_000, 50);
    } finally {
      fakes.get(HOLD)!.proc.stdin?.write('release\n');
    }
    await exited;
    const replies = JSON.parse(out) as { sentId: number; sentName: string; reply: { id: number; question: string; address: string | null } | null }[];
    assert.equal(replies.length, 20);
    for (const r of replies) {
      assert.ok(r.reply !== null, `client ${r.sentId} answered`);
      assert.equal(r.reply.id, r.sentId, 'its own ID');
      assert.equal(r.reply.question, r.sentName, 'its own spelling of the name');
      assert.equal(r.reply.address, '10.0.0.1');
    }
    const upstreamSaw = fakes.get(HOLD)!.seen.filter((s) => s.name.toLowerCase() === 'same.hold.test');
    assert.equal(upstreamSaw.length, 1, 'one upstream query for 20 clients');
    assert.equal((await coalesced(agent)) - before, 19);
  });

  void test('0x20: a reply whose name differs only in case is dropped, the real one taken', async () => {
    // Teach the agent that this server echoes case, then race a wrong-case reply ahead of the real one.
    await burst('many', '5', 'learn.spoof.test');
    await waitFor('spoof server learned to echo', async () => (await upstream(agent, SPOOF)).caseEcho === 'yes', 5000, 100);
    const r = await dig(ns, AGENT, 'evil.spoof.test');
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.deepEqual(r.answers, ['evil.spoof.test. A 10.0.0.1'], 'the spoofed 6.6.6.6 was not taken');
    const u = await upstream(agent, SPOOF);
    assert.ok(u.caseMismatches >= 1, `the wrong-case reply counted: ${JSON.stringify(u)}`);
    assert.equal(u.caseEcho, 'yes');
    const evil = fakes.get(SPOOF)!.seen.filter((s) => s.name.toLowerCase() === 'evil.spoof.test');
    assert.equal(evil.length, 1, 'no second asking for a server known to echo');
    assert.notEqual(evil[0]!.name, evil[0]!.name.toLowerCase(), 'sent in random case');
  });

  void test('0x20: a server that lowercases the question still answers; then it gets the client spelling', async () => {
    for (let i = 0; i < 5 && (await upstream(agent, LOWER)).caseEcho !== 'no'; i++) {
      assert.deepEqual((await dig(ns, AGENT, `learn${i}.lower.test`)).answers, [`learn${i}.lower.test. A 10.0.0.1`]);
    }
    assert.equal((await upstream(agent, LOWER)).caseEcho, 'no', 'detected: the server does not echo case');
    const first = fakes.get(LOWER)!.seen.filter((s) => s.name.toLowerCase() === 'learn0.lower.test');
    assert.ok(first.length >= 1 && first.some((s) => /[A-Z]/.test(s.name)), `first asked in random case: ${JSON.stringify(first)}`);
    const r = await dig(ns, AGENT, 'After.Lower.Test');
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.deepEqual(r.answers, ['after.lower.test. A 10.0.0.1']);
    assert.match(r.raw, /After\.Lower\.Test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.1/, 'the reply carries the client spelling');
    const after = fakes.get(LOWER)!.seen.filter((s) => s.name.toLowerCase() === 'after.lower.test');
    assert.deepEqual(
      after.map((s) => s.name),
      ['After.Lower.Test'],
      'asked once, as the client wrote it',
    );
  });
});
