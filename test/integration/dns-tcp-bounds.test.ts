/**
 * TCP DNS is bounded per client, against the real agent: a client pipelining 400k queries that never
 * reads its answers (the agent stops reading it; its memory stays put; others are answered), a client
 * dribbling bytes that never make a query (the idle timeout), a busy client (the whole-connection
 * deadline), and one address opening more connections than its share.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { dig, dnsStatus } from './dns-fixture.js';

const AGENT = '127.0.0.1';
const CLIENTS = join(REPO_ROOT, 'test/integration/dns-tcp-clients.ts');

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN') / 1024;
}

interface TcpCounts {
  tcpRejected: number;
  tcpExpired: number;
  tcpConnections: number;
}

void describe('dns TCP is bounded per client', () => {
  let ns: Netns;
  let agent: AgentHandle;

  before(async () => {
    ns = await createNetns('tdntcp');
    agent = await startAgent({ ns, config: { dns: { enabled: true, listen: [`${AGENT}:53`], hosts: [{ name: 'istio-pilot', addresses: ['192.168.0.62'] }] } } });
    await agent.waitReady();
  });

  after(async () => {
    await agent?.cleanup();
    await ns?.destroy();
  });

  const client = async (...args: string[]): Promise<Record<string, unknown>> => {
    const out = await ns.must(process.execPath, ['--import', 'tsx', CLIENTS, AGENT, '53', ...args]);
    return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  };
  const tcp = async (): Promise<TcpCounts> => ((await dnsStatus(agent)).listeners[0] as unknown as TcpCounts);
  const queries = async (): Promise<number> => (await dnsStatus(agent)).queries;

  void test('400k pipelined queries never read: agent RSS grows at most 16 MB, others are answered, the connection is closed', async () => {
    const pid = agent.proc.pid ?? 0;
    // The same path with a client that reads: every answer arrives (and the code is warm for the measure).
    assert.deepEqual(await client('pipeline', '100000'), { answered: 100_000 });
    const queriesBefore = await queries();
    const expiredBefore = (await tcp()).tcpExpired;
    const rssBefore = await rssMb(pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssMb(pid).then((mb) => (rssPeak = Math.max(rssPeak, mb)), () => undefined);
    }, 100);
    const greedy = ns.spawn(process.execPath, ['--import', 'tsx', CLIENTS, AGENT, '53', 'greedy', '400000']);
    let greedyOut = '';
    greedy.stdout?.on('data', (c: Buffer) => (greedyOut += c.toString()));
    const greedyGone = new Promise<void>((resolve) => greedy.on('exit', () => resolve()));
    try {
      await waitFor('the agent answering the greedy client', async () => (await queries()) - queriesBefore > 10_000, 20_000, 100);
      // Meanwhile, other clients over UDP and TCP.
      assert.deepEqual((await dig(ns, AGENT, 'istio-pilot')).answers, ['istio-pilot. A 192.168.0.62']);
      assert.deepEqual((await dig(ns, AGENT, 'istio-pilot', 'A', ['+tcp'])).answers, ['istio-pilot. A 192.168.0.62']);
      assert.doesNotMatch(greedyOut, /closed/, 'the greedy connection was still open meanwhile');
      await waitFor('the agent closing the greedy connection', () => greedyOut.includes('"closed"'), 40_000, 100);
    } finally {
      clearInterval(sampler);
      greedy.kill();
      await greedyGone;
    }
    const served = (await queries()) - queriesBefore;
    console.log(`rss before ${rssBefore.toFixed(1)} MB, peak ${rssPeak.toFixed(1)} MB; the agent answered ${served} of the 400000 before it stopped reading`);
    assert.ok(rssPeak - rssBefore <= 16, `RSS growth ${(rssPeak - rssBefore).toFixed(1)} MB`);
    assert.ok(served < 400_000, `the agent stopped reading a client that does not read (${served} answered)`);
    assert.ok((await tcp()).tcpExpired > expiredBefore, 'closed by the idle timeout: no complete query while held');
  });

  void test('dribbled bytes do not keep a connection alive; a busy one ends at the whole-connection deadline', async () => {
    const expiredBefore = (await tcp()).tcpExpired;
    const [dribble, steady] = await Promise.all([client('dribble'), client('steady')]);
    assert.equal(dribble['closedByAgent'], true, `a never-complete query is idle: ${JSON.stringify(dribble)}`);
    assert.ok(Number(dribble['bytes']) >= 10, `closed while still sending bytes: ${JSON.stringify(dribble)}`);
    assert.equal(steady['closedByAgent'], true, `the deadline ends even a busy connection: ${JSON.stringify(steady)}`);
    // One query every 500 ms was answered throughout, so it was never idle: the deadline closed it.
    assert.ok(Number(steady['answered']) >= 30, `busy until the end: ${JSON.stringify(steady)}`);
    assert.ok((await tcp()).tcpExpired >= expiredBefore + 2);
  });

  void test('one address gets at most 32 connections; another address still connects and is answered', async () => {
    const rejectedBefore = (await tcp()).tcpRejected;
    assert.deepEqual(await client('sources', '127.0.0.5', '40', '8'), { closedEarly: 8, answered: 32 });
    assert.equal((await tcp()).tcpRejected - rejectedBefore, 8);
    assert.deepEqual(await client('sources', '127.0.0.6', '1', '0'), { closedEarly: 0, answered: 1 });
    await waitFor('connections closed', async () => (await tcp()).tcpConnections === 0, 10_000, 100);
  });
});
