/**
 * The DNS proxy in a namespace with real clients (dig, kdig) and dnsmasq as kube-dns (127.0.0.2)
 * and as the external upstream (127.0.0.3): every answer source, NODATA vs NXDOMAIN, subdomain
 * matching, TCP, UDP truncation and the TC→TCP retry upstream, cache expiry, ServiceEntry reload,
 * config reload, /status and /metrics.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { dig, dnsStatus, startDnsmasq, upstreamQueries } from './dns-fixture.js';

const AGENT = '127.0.0.1';
const KUBE_DNS = '127.0.0.2';
const UPSTREAM = '127.0.0.3';
const BIG = Array.from({ length: 4 }, (_, i) => `"${String.fromCharCode(97 + i).repeat(200)}"`).join(',');

const seText = (address: string): string => `apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: { name: httpbin-bar }
spec:
  hosts: [httpbin.bar.global]
  location: MESH_INTERNAL
  resolution: DNS
  addresses: [${address}]
---
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: { name: auto }
spec:
  hosts: [reviews.foo.global, "*.nowhere.example"]
  resolution: DNS
---
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: { name: wild }
spec:
  hosts: ["*.wild.example"]
  addresses: [240.0.0.9]
`;

// Both UDP paths answer everything: the native batched socket (the default; the status check
// fails if it stopped loading) and node:dgram (MNA_DNS_UDP=dgram, the fallback).
for (const udp of ['batch', 'dgram'] as const) void describe(`dns proxy answers (namespace, dig/kdig, dnsmasq upstreams; UDP ${udp})`, () => {
  let ns: Netns;
  let agent: AgentHandle;
  let dir: string;
  let sePath: string;
  let config: Record<string, unknown>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-dns-answers-'));
    sePath = join(dir, 'mesh.yaml');
    await writeFile(sePath, seText('240.0.0.2'));
    ns = await createNetns('dns');
    await startDnsmasq(ns, KUBE_DNS, ['--address=/productpage.default.svc.cluster.local/10.233.0.10', '--local=/svc.cluster.local/', '--local-ttl=30']);
    await startDnsmasq(ns, UPSTREAM, [
      '--address=/example.com/93.184.215.14',
      '--address=/short.example/10.9.9.9',
      '--address=/#/',
      '--local-ttl=2',
      `--txt-record=big.example,${BIG}`,
      '--edns-packet-max=512', // so a 4096-byte client still gets TC from here: the agent must go TCP
    ]);
    // The saved resolv.conf names the agent itself first: it must be skipped, not looped into.
    await writeFile(join(dir, 'resolv.conf'), `nameserver ${AGENT}\nnameserver ${UPSTREAM}\n`);
    config = {
      stateDir: dir,
      dns: {
        enabled: true,
        listen: [`${AGENT}:53`, '[::1]:53'],
        hosts: [
          { name: 'istio-pilot', addresses: ['192.168.0.62'] },
          { name: 'istio-citadel.istio-system', addresses: ['192.168.0.62', 'fd00::62'] },
        ],
        forward: [
          { domain: 'svc.cluster.local', servers: [KUBE_DNS] },
          { domain: 'v6.test', servers: ['[::1]:5353'] },
        ],
        serviceEntries: { paths: [sePath] },
      },
    };
    await startDnsmasq(ns, '::1', ['--port=5353', '--address=/v6.test/10.6.6.6']);
    agent = await startAgent({ ns, config, env: { MNA_DNS_UDP: udp } });
    await agent.waitReady();
  });

  after(async () => {
    await agent?.cleanup();
    await ns?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  void test('dns.hosts: the name and all subdomains, A and AAAA; NODATA for a missing type', async () => {
    assert.deepEqual((await dig(ns, AGENT, 'istio-pilot')).answers, ['istio-pilot. A 192.168.0.62']);
    assert.deepEqual((await dig(ns, AGENT, 'a.b.Istio-Pilot')).answers, ['a.b.istio-pilot. A 192.168.0.62']);
    const aaaa = await dig(ns, AGENT, 'istio-pilot', 'AAAA');
    assert.equal(aaaa.status, 'NOERROR');
    assert.deepEqual(aaaa.answers, []);
    assert.ok(aaaa.flags.includes('aa'));
    assert.deepEqual((await dig(ns, AGENT, 'istio-citadel.istio-system', 'AAAA', [], 'kdig')).answers, ['istio-citadel.istio-system. AAAA fd00::62']);
    assert.equal((await dig(ns, AGENT, 'istio-system')).status, 'NXDOMAIN', 'a parent of a hosts name is not ours: forwarded');
  });

  void test('mesh table: .global ServiceEntry addresses, stable auto-allocated VIPs, wildcards', async () => {
    assert.deepEqual((await dig(ns, AGENT, 'httpbin.bar.global')).answers, ['httpbin.bar.global. A 240.0.0.2']);
    const auto = await dig(ns, AGENT, 'reviews.foo.global');
    assert.match(auto.answers[0] ?? '', /^reviews\.foo\.global\. A 240\.240\.\d+\.\d+$/);
    const s = await dnsStatus(agent);
    assert.equal(`reviews.foo.global. A ${s.mesh.allocated.find((a) => a.host === 'reviews.foo.global')?.vip}`, auto.answers[0]);
    const nodata = await dig(ns, AGENT, 'httpbin.bar.global', 'AAAA');
    assert.equal(nodata.status, 'NOERROR');
    assert.deepEqual(nodata.answers, []);
    assert.equal((await dig(ns, AGENT, 'other.bar.global')).status, 'NXDOMAIN', 'unknown .global names go upstream');
    assert.deepEqual((await dig(ns, AGENT, 'a.b.wild.example')).answers, ['a.b.wild.example. A 240.0.0.9']);
    assert.equal((await dig(ns, AGENT, 'wild.example')).status, 'NXDOMAIN', 'a wildcard does not cover its apex');
    assert.equal((await dig(ns, AGENT, 'x.nowhere.example')).status, 'NXDOMAIN', 'a wildcard without addresses gets no VIP');
  });

  void test('dns.forward: svc.cluster.local to kube-dns (answers and NXDOMAIN), over UDP and TCP', async () => {
    assert.deepEqual((await dig(ns, AGENT, 'productpage.default.svc.cluster.local')).answers, ['productpage.default.svc.cluster.local. A 10.233.0.10']);
    assert.deepEqual((await dig(ns, AGENT, 'productpage.default.svc.cluster.local', 'A', ['+tcp'], 'kdig')).answers, ['productpage.default.svc.cluster.local. A 10.233.0.10']);
    assert.equal((await dig(ns, AGENT, 'nope.default.svc.cluster.local')).status, 'NXDOMAIN');
    assert.deepEqual((await dig(ns, '::1', 'productpage.default.svc.cluster.local')).answers, ['productpage.default.svc.cluster.local. A 10.233.0.10'], 'the [::1] listener');
  });

  void test('a forward server given as [IPv6]:port is used over UDP and TCP', async () => {
    assert.deepEqual((await dig(ns, AGENT, 'a.v6.test')).answers, ['a.v6.test. A 10.6.6.6']);
    assert.deepEqual((await dig(ns, AGENT, 'b.v6.test', 'A', ['+tcp'])).answers, ['b.v6.test. A 10.6.6.6']);
  });

  void test('everything else goes to the saved resolv.conf upstream (our own address skipped)', async () => {
    assert.deepEqual((await dig(ns, AGENT, 'www.example.com')).answers, ['www.example.com. A 93.184.215.14']);
    assert.equal((await dig(ns, AGENT, 'nothing.invalid')).status, 'NXDOMAIN');
    const s = await dnsStatus(agent);
    assert.deepEqual(s.upstreams.servers, [UPSTREAM]);
    assert.ok(s.upstreams.source.endsWith('resolv.conf'));
  });

  void test('replies fit the client: TC without EDNS, full over TCP; upstream TC is retried over TCP', async () => {
    const direct = await dig(ns, UPSTREAM, 'big.example', 'TXT', ['+ignore', '+bufsize=4096']);
    assert.ok(direct.flags.includes('tc'), 'the upstream itself truncates at 512 bytes');
    const small = await dig(ns, AGENT, 'big.example', 'TXT', ['+ignore', '+noedns']);
    assert.ok(small.flags.includes('tc'), `a 512-byte client gets TC: ${small.raw}`);
    const big = await dig(ns, AGENT, 'big.example', 'TXT', ['+ignore', '+bufsize=4096']);
    assert.ok(!big.flags.includes('tc'), `with EDNS 4096 the agent fetched the whole answer over TCP: ${big.raw}`);
    assert.equal(big.answers.length, 1);
    assert.equal((await dig(ns, AGENT, 'big.example', 'TXT', ['+tcp'])).answers.length, 1);
    assert.ok((await dnsStatus(agent)).truncated >= 1);
  });

  void test('cache: a repeat is served from the cache until the TTL runs out', async () => {
    const before = await dnsStatus(agent);
    const first = await dig(ns, AGENT, 'short.example');
    assert.deepEqual(first.answers, ['short.example. A 10.9.9.9']);
    const second = await dig(ns, AGENT, 'SHORT.example');
    assert.deepEqual(second.answers, ['short.example. A 10.9.9.9']);
    const mid = await dnsStatus(agent);
    assert.equal(upstreamQueries(mid, `${UPSTREAM}:53`) - upstreamQueries(before, `${UPSTREAM}:53`), 1, 'one upstream query for two client queries');
    assert.equal(mid.bySource.cache! - before.bySource.cache!, 1);
    assert.ok((second.ttls[0] ?? 99) <= 2);
    // Asked again until the agent goes upstream for it: only once the entry's 2 s TTL has run out.
    const fromCache: { answers: string[]; ttl: number | undefined }[] = [];
    const asked = async (): Promise<number> => upstreamQueries(await dnsStatus(agent), `${UPSTREAM}:53`) - upstreamQueries(before, `${UPSTREAM}:53`);
    await waitFor(
      'the expired entry asked upstream again',
      async () => {
        const r = await dig(ns, AGENT, 'short.example');
        if ((await asked()) >= 2) return true;
        fromCache.push({ answers: r.answers, ttl: r.ttls[0] });
        return false;
      },
      15_000,
      100,
    );
    assert.equal(await asked(), 2, 'expired: asked upstream once more');
    for (const r of fromCache) {
      assert.deepEqual(r.answers, ['short.example. A 10.9.9.9']);
      assert.ok(r.ttl !== undefined && r.ttl <= 2, `served from the cache with TTL ${r.ttl}`);
    }
  });

  void test('ServiceEntry files are watched: changes apply, a bad manifest keeps the last good table', async () => {
    await writeFile(sePath, seText('240.0.0.7'));
    await waitFor('new address', async () => (await dig(ns, AGENT, 'httpbin.bar.global')).answers[0] === 'httpbin.bar.global. A 240.0.0.7', 10_000, 200);
    await writeFile(sePath, 'kind: ServiceEntry\nspec: { hosts: [broken');
    await waitFor('problem reported', async () => (await dnsStatus(agent)).mesh.problems.length > 0, 10_000, 200);
    const s = await dnsStatus(agent);
    assert.equal(s.mesh.problems[0]?.file, sePath);
    assert.match(agent.logs(), /ServiceEntry manifests rejected, keeping the last good table/);
    assert.deepEqual((await dig(ns, AGENT, 'httpbin.bar.global')).answers, ['httpbin.bar.global. A 240.0.0.7']);
    await writeFile(sePath, seText('240.0.0.8'));
    await waitFor('recovered', async () => (await dig(ns, AGENT, 'httpbin.bar.global')).answers[0] === 'httpbin.bar.global. A 240.0.0.8', 10_000, 200);
    assert.deepEqual((await dnsStatus(agent)).mesh.problems, []);
  });

  void test('malformed and multi-question queries get FORMERR or nothing; the proxy keeps answering', async () => {
    const script = `
      const dgram = require('node:dgram');
      const s = dgram.createSocket('udp4');
      const q = Buffer.from('abcd01000002000000000000' + '0161000001000101620000010001', 'hex');
      const resp = Buffer.from('abcd81000001000000000000' + '0161000001000' + '1', 'hex');
      // A valid query (ID beef, istio-pilot A) sent last: the agent answers in order, so once its
      // answer is here every answer to the packets before it is too.
      const probe = Buffer.from('beef01000001000000000000' + '0b697374696f2d70696c6f74' + '0000010001', 'hex');
      const got = [];
      const done = (probeAnswered) => { console.log(JSON.stringify({ probeAnswered, got })); s.close(); clearTimeout(deadline); };
      const deadline = setTimeout(() => done(false), 10000);
      s.on('message', (m) => (m.readUInt16BE(0) === 0xbeef ? done(true) : got.push(m.toString('hex'))));
      s.send(q, 53, '${AGENT}');
      s.send(resp, 53, '${AGENT}');
      s.send(Buffer.alloc(3), 53, '${AGENT}');
      s.send(probe, 53, '${AGENT}');`;
    const { probeAnswered, got: out } = JSON.parse(await ns.must(process.execPath, ['-e', script])) as { probeAnswered: boolean; got: string[] };
    assert.equal(probeAnswered, true, 'the valid query sent after them was answered');
    assert.equal(out.length, 1, 'only the two-question query is answered');
    assert.equal(parseInt(out[0]!.slice(6, 8), 16) & 0xf, 1, 'FORMERR');
    assert.deepEqual((await dig(ns, AGENT, 'istio-pilot')).answers, ['istio-pilot. A 192.168.0.62']);
  });

  void test('/status and /metrics report sources, rcodes, latency, cache and upstream health', async () => {
    const s = await dnsStatus(agent);
    for (const source of ['hosts', 'mesh', 'forward', 'cache', 'upstream']) assert.ok((s.bySource[source] ?? 0) > 0, `source ${source} counted`);
    assert.ok((s.byRcode.NXDOMAIN ?? 0) > 0 && (s.byRcode.FORMERR ?? 0) > 0);
    assert.deepEqual(s.listeners.map((l) => l.address).sort(), ['127.0.0.1:53', '[::1]:53']);
    assert.deepEqual(s.listeners.map((l) => l.udp), [udp, udp], `UDP served by the ${udp} path`);
    assert.ok(s.upstreams.health.every((h) => h.healthy));
    const metrics = (await agent.get('/metrics')).body;
    assert.match(metrics, /mesh_node_agent_dns_queries_total\{source="mesh"\} [1-9]/);
    assert.match(metrics, /mesh_node_agent_dns_responses_total\{rcode="NXDOMAIN"\} [1-9]/);
    assert.match(metrics, /mesh_node_agent_dns_query_duration_seconds_count [1-9]/);
    assert.match(metrics, /mesh_node_agent_dns_query_duration_seconds_bucket\{le="\+Inf"\} [1-9]/);
    assert.match(metrics, /mesh_node_agent_dns_cache_hits_total [1-9]/);
    assert.match(metrics, /mesh_node_agent_dns_upstream_healthy\{server="127.0.0.2:53"\} 1/);
  });

  void test('reload applies new hosts without dropping the unchanged listener', async () => {
    const pidBefore = agent.proc.pid;
    const s0 = await dnsStatus(agent);
    await agent.writeConfig({ ...config, dns: { ...(config.dns as object), hosts: [{ name: 'istio-pilot', addresses: ['192.168.0.99'] }] } });
    // Queries keep flowing across the reload.
    const during = (async () => {
      const statuses: string[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await dig(ns, AGENT, 'productpage.default.svc.cluster.local')).status);
      return statuses;
    })();
    agent.proc.kill('SIGHUP');
    await waitFor('reloaded hosts', async () => (await dig(ns, AGENT, 'istio-pilot')).answers[0] === 'istio-pilot. A 192.168.0.99', 10_000, 100);
    assert.ok((await during).every((st) => st === 'NOERROR'));
    assert.equal(agent.proc.pid, pidBefore);
    assert.ok((await dnsStatus(agent)).queries > s0.queries, 'counters survive the reload');
    assert.equal((await dig(ns, AGENT, 'istio-citadel.istio-system')).status, 'NXDOMAIN', 'removed hosts are gone');
  });

  void test('reload opens a new listen address and closes a removed one', async () => {
    await agent.writeConfig({ ...config, dns: { ...(config.dns as object), listen: [`${AGENT}:53`, '127.0.0.10:53'] } });
    agent.proc.kill('SIGHUP');
    await waitFor('new listener', async () => (await dig(ns, '127.0.0.10', 'istio-pilot')).status === 'NOERROR', 10_000, 200);
    assert.deepEqual((await dnsStatus(agent)).listeners.map((l) => l.address).sort(), ['127.0.0.10:53', '127.0.0.1:53']);
    const v6 = await dig(ns, '::1', 'istio-pilot', 'A', ['+time=1']);
    assert.notEqual(v6.status, 'NOERROR', 'the removed [::1] listener no longer answers');
  });
});
