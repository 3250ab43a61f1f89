/**
 * Upstream replies as an attacker would race them, against the real agent with upstream servers the
 * test runs (dns-fake-upstream.ts, which logs every query it receives): a fresh source port per query,
 * identical queries in flight sent upstream once, the question's letter case randomized (0x20) with a
 * reply of the wrong case dropped, and a server that lowercases still answering.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { dig, dnsStatus } from './dns-fixture.js';

const AGENT = '127.0.0.1';
const ECHO = '127.0.0.21';
const LOWER = '127.0.0.22';
const SPOOF = '127.0.0.23';
const HOLD = '127.0.0.24';
const SCRIPTS = join(REPO_ROOT, 'test/integration');

interface Seen {
  port: number;
  id: number;
  name: string;
}

interface FakeUpstream {
  proc: ChildProcess;
  seen: Seen[];
}

async function fakeUpstream(ns: Netns, address: string, mode: string): Promise<FakeUpstream> {
  const proc = ns.spawn(process.execPath, ['--import', 'tsx', join(SCRIPTS, 'dns-fake-upstream.ts'), address, '53', mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  const seen: Seen[] = [];
  let ready = false;
  let partial = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') ready = true;
      else if (line.startsWith('{')) seen.push(JSON.parse(line) as Seen);
    }
  });
  await waitFor(`fake upstream ${address} (${mode})`, () => ready || (proc.exitCode !== null ? Promise.reject(new Error(`exited ${proc.exitCode}`)) : false), 15_000, 50);
  return { proc, seen };
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
    ] as const) {
      fakes.set(address, await fakeUpstream(ns, address, mode));
    }
    const forward = [
      { domain: 'lower.test', servers: [LOWER] },
      { domain: 'spoof.test', servers: [SPOOF] },
      { domain: 'hold.test', servers: [HOLD] },
    ];
    agent = await startAgent({ ns, config: { dns: { enabled: true, listen: [`${AGENT}:53`], upstreams: [ECHO], forward } } });
    await agent.waitReady();
  });

  after(async () => {
    await agent?.cleanup();
    await ns?.destroy();
  });

  const burst = async (...args: string[]): Promise<string> => ns.must(process.execPath, ['--import', 'tsx', join(SCRIPTS, 'dns-query-burst.ts'), AGENT, '53', ...args]);

  void test('1000 upstream queries leave from distinct source ports, in mixed case, and are all answered', async () => {
    const result = JSON.parse(await burst('many', '1000', 'echo.test')) as { answered: number; byAddress: Record<string, number> };
    assert.equal(result.answered, 1000);
    assert.deepEqual(result.byAddress, { '10.0.0.1': 1000 });
    const seen = fakes.get(ECHO)!.seen.filter((s) => /^q\d+\.echo\.test$/i.test(s.name));
    assert.equal(seen.length, 1000, 'one upstream query per client query');
    const ports = new Set(seen.map((s) => s.port));
    // Random ports from the ephemeral range (about 28k) repeat now and then; four fixed sockets gave 4.
    assert.ok(ports.size >= 950, `distinct source ports: ${ports.size} of 1000`);
    const mixed = seen.filter((s) => /[a-z]/.test(s.name) && /[A-Z]/.test(s.name)).length;
    console.log(`upstream saw ${ports.size} distinct source ports and ${mixed} mixed-case names over 1000 queries`);
    assert.ok(mixed >= 950, `names in mixed case upstream: ${mixed} of 1000`);
    const u = await upstream(agent, ECHO);
    assert.equal(u.caseEcho, 'yes', 'the server echoes case: learned');
    assert.equal(u.caseMismatches, 0);
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
