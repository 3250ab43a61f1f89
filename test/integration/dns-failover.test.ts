/**
 * Upstream failover with real dnsmasq upstreams: a dead server (nothing listening), a server
 * that stops answering (SIGSTOP), recovery once it answers again, and SERVFAIL — never
 * NXDOMAIN — when every server fails.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { dig, dnsStatus, startDnsmasq, upstreamQueries } from './dns-fixture.js';

const AGENT = '127.0.0.1';
const DEAD = '127.0.0.9';
const PRIMARY = '127.0.0.3';
const SECONDARY = '127.0.0.4';
/** dnsmasq with no servers: REFUSED for any name it does not own. */
const REFUSER = '127.0.0.5';

void describe('dns upstream failover and health', () => {
  let ns: Netns;
  let agent: AgentHandle;
  let primary: ChildProcess;
  let secondary: ChildProcess;
  let refuser: ChildProcess;

  before(async () => {
    ns = await createNetns('dns');
    // TTL 0 answers are never cached, so every query really goes upstream.
    primary = await startDnsmasq(ns, PRIMARY, ['--address=/who.example/10.0.0.3', '--address=/refuse.example/10.0.0.3']);
    secondary = await startDnsmasq(ns, SECONDARY, ['--address=/who.example/10.0.0.4']);
    refuser = await startDnsmasq(ns, REFUSER, ['--address=/ready.refuser/10.0.0.5']);
    const forward = [
      { domain: 'refuse.example', servers: [REFUSER, PRIMARY] },
      { domain: 'refused.example', servers: [REFUSER] },
    ];
    agent = await startAgent({ ns, config: { dns: { enabled: true, listen: [`${AGENT}:53`], upstreams: [`${AGENT}:53`, DEAD, PRIMARY, SECONDARY], forward } } });
    await agent.waitReady();
  });

  after(async () => {
    if (primary?.signalCode === null) primary.kill('SIGCONT');
    await agent?.cleanup();
    await ns?.destroy();
  });

  void test('a server with nothing listening fails fast and is marked unhealthy', async () => {
    assert.deepEqual((await dig(ns, AGENT, 'who.example')).answers, ['who.example. A 10.0.0.3']);
    const health = (await dnsStatus(agent)).upstreams.health as unknown as { server: string; healthy: boolean; lastError?: string }[];
    // Failed by the ICMP port-unreachable (ECONNREFUSED on the connected socket), not by the timeout.
    assert.match(health.find((h) => h.server === `${DEAD}:53`)?.lastError ?? '', /ECONNREFUSED/);
    assert.equal(health.find((h) => h.server === `${AGENT}:53`), undefined, 'our own address is never an upstream');
    assert.match(agent.logs(), /one of our own listen addresses/);
    assert.equal(health.find((h) => h.server === `${DEAD}:53`)?.healthy, false);
    assert.equal(health.find((h) => h.server === `${PRIMARY}:53`)?.healthy, true);
  });

  void test('a server that stops answering times out, the next one answers, and later queries skip it', async () => {
    primary.kill('SIGSTOP');
    const before = upstreamQueries(await dnsStatus(agent), `${PRIMARY}:53`);
    // Two queries from one dig, the second right after the first answer: within the primary's back-off.
    const r = await ns.run('dig', [`@${AGENT}`, '+tries=1', '+time=8', '+short', 'who.example', 'who.example']);
    assert.deepEqual(r.stdout.trim().split('\n'), ['10.0.0.4', '10.0.0.4'], r.stdout + r.stderr);
    const s = await dnsStatus(agent);
    assert.equal(s.upstreams.health.find((h) => h.server === `${PRIMARY}:53`)?.healthy, false);
    assert.equal(upstreamQueries(s, `${PRIMARY}:53`) - before, 1, 'asked once (timed out), then not waited for again');
  });

  void test('a recovered server is probed again after its back-off and leads once healthy', async () => {
    primary.kill('SIGCONT');
    await waitFor('primary answers again', async () => (await dig(ns, AGENT, 'who.example')).answers[0] === 'who.example. A 10.0.0.3', 20_000, 300);
    assert.equal((await dnsStatus(agent)).upstreams.health.find((h) => h.server === `${PRIMARY}:53`)?.healthy, true);
  });

  void test('a server that answers REFUSED is passed over; when none does better, its answer stands', async () => {
    assert.equal(refuser.exitCode, null);
    assert.deepEqual((await dig(ns, AGENT, 'x.refuse.example')).answers, ['x.refuse.example. A 10.0.0.3']);
    const only = await dig(ns, AGENT, 'x.refused.example');
    assert.equal(only.status, 'REFUSED', 'the upstream said REFUSED: not turned into NXDOMAIN, nor into an answer');
    const health = (await dnsStatus(agent)).upstreams.health;
    assert.equal(health.find((h) => h.server === `${PRIMARY}:53`)?.healthy, true, 'the next server answered');
  });

  void test('forwarded queries in flight are capped: beyond the cap clients get REFUSED', async () => {
    primary.kill('SIGSTOP');
    secondary.kill('SIGSTOP');
    try {
      // 1500 distinct names while no upstream answers: 1024 wait, the rest are refused at once (the
      // waiting ones end in SERVFAIL after the budget). Counted by the agent, since a burst of REFUSED
      // can overflow the client's receive buffer, and seen on the wire by the client; not timed.
      const script = `
        const dgram = require('node:dgram');
        const s = dgram.createSocket('udp4');
        const rcodes = {};
        s.on('message', (m) => { const r = m[3] & 15; rcodes[r] = (rcodes[r] || 0) + 1; });
        // Paced in batches: a burst of 1500 would overflow the sockets' receive buffers (about 270
        // small datagrams each), and dropped packets are not what this test is about.
        const deadline = Date.now() + 15000;
        const done = () => {
          if ((rcodes[5] || 0) + (rcodes[2] || 0) < 1400 && Date.now() < deadline) return void setTimeout(done, 20);
          console.log(JSON.stringify(rcodes));
          s.close();
        };
        const send = (from) => {
          for (let i = from; i < Math.min(from + 50, 1500); i++) {
            const name = Buffer.from('q' + i);
            const q = Buffer.concat([Buffer.from([i >> 8, i & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, name.length]), name, Buffer.from([7]), Buffer.from('example'), Buffer.from([0, 0, 1, 0, 1])]);
            s.send(q, 53, '${AGENT}');
          }
          if (from + 50 < 1500) setTimeout(() => send(from + 50), 10);
          else done();
        };
        s.bind(0, '127.0.0.1', () => {
          try { s.setRecvBufferSize(1 << 22); } catch {}
          send(0);
        });`;
      const refusedBefore = ((await dnsStatus(agent)) as unknown as { refusedOverload: number }).refusedOverload;
      const rcodes = JSON.parse(await ns.must(process.execPath, ['-e', script])) as Record<string, number>;
      const refused = ((await dnsStatus(agent)) as unknown as { refusedOverload: number }).refusedOverload - refusedBefore;
      assert.ok(refused >= 400, `REFUSED by the agent for the excess: ${refused}; the client got ${JSON.stringify(rcodes)}`);
      assert.ok((rcodes['5'] ?? 0) > 0, `REFUSED reached the client: ${JSON.stringify(rcodes)}`);
    } finally {
      primary.kill('SIGCONT');
      secondary.kill('SIGCONT');
    }
    await waitFor('in-flight drained', async () => ((await dnsStatus(agent)) as unknown as { inFlight: number }).inFlight === 0, 15_000, 200);
    // The resumed upstreams first answer the backlog; start the next test from a settled state.
    await waitFor('forwarding works again', async () => (await dig(ns, AGENT, 'who.example')).status === 'NOERROR', 15_000, 300);
  });

  void test('all servers failing gives SERVFAIL, not NXDOMAIN', async () => {
    primary.kill('SIGSTOP');
    secondary.kill('SIGSTOP');
    try {
      const r = await dig(ns, AGENT, 'who.example', 'A', ['+time=8']);
      assert.equal(r.status, 'SERVFAIL');
    } finally {
      primary.kill('SIGCONT');
      secondary.kill('SIGCONT');
    }
    const metrics = (await agent.get('/metrics')).body;
    assert.match(metrics, /mesh_node_agent_dns_upstream_failures_total\{server="127.0.0.3:53"\} [1-9]/);
    assert.match(metrics, /mesh_node_agent_dns_responses_total\{rcode="SERVFAIL"\} [1-9]/);
  });

  void test('stopping with forwarded queries in flight exits cleanly', async () => {
    primary.kill('SIGSTOP');
    secondary.kill('SIGSTOP');
    try {
      const client = ns.spawn(process.execPath, ['-e', `
        const s = require('node:dgram').createSocket('udp4');
        for (let i = 0; i < 50; i++) {
          const n = Buffer.from('z' + i);
          s.send(Buffer.concat([Buffer.from([0, i, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, n.length]), n, Buffer.from([7]), Buffer.from('example'), Buffer.from([0, 0, 1, 0, 1])]), 53, '${AGENT}');
        }
        setTimeout(() => s.close(), 3000);`]);
      await waitFor('queries in flight', async () => ((await dnsStatus(agent)) as unknown as { inFlight: number }).inFlight > 0, 5000, 50);
      const stopped = await agent.stop('SIGTERM');
      assert.equal(stopped.code, 0, agent.logs().slice(-2000));
      assert.doesNotMatch(agent.logs(), /unhandled|ERR_SOCKET_DGRAM_NOT_RUNNING/);
      client.kill();
    } finally {
      primary.kill('SIGCONT');
      secondary.kill('SIGCONT');
    }
  });
});
