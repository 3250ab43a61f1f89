/**
 * Differential test: the agent configured from the seed's dnsmasq file (address=/name/ip lines,
 * server=/svc.cluster.local/kube-dns) and the seed's .global ServiceEntry must give the same rcode
 * and answer RRset as dnsmasq configured with the equivalent dnsmasq file, for every query in
 * the set. Both forward to the same kube-dns and upstream dnsmasq instances.
 *
 * "Equivalent" spells out the agent's documented choice for owned names: a known name without a
 * record of the asked type is NODATA, which dnsmasq ≥ 2.86 gives only with local=/name/ beside
 * address=/name/ip (without it, dnsmasq forwards such queries upstream).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { dig, startDnsmasq } from './dns-fixture.js';

const AGENT = '127.0.0.1';
const KUBE_DNS = '127.0.0.2';
const UPSTREAM = '127.0.0.3';
const REFERENCE = '127.0.0.5';

/** Seed 001's /etc/dnsmasq.d/kubedns, with kube-dns at its in-namespace address. */
const SEED_NAMES = ['istio-mixer', 'istio-policy', 'istio-telemetry', 'istio-pilot', 'istio-citadel', 'istio-ca'].flatMap((n) => [n, `${n}.istio-system`]);
const SEED_IP = '192.168.0.62';
/** Seed 003's ServiceEntry: httpbin.bar.global → 240.0.0.2. */
const GLOBAL = { host: 'httpbin.bar.global', address: '240.0.0.2' };

const SE = `apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: { name: httpbin-bar }
spec:
  hosts: [${GLOBAL.host}]
  location: MESH_INTERNAL
  ports: [{ name: http1, number: 8000, protocol: http }]
  resolution: DNS
  addresses: [${GLOBAL.address}]
  endpoints: [{ address: 172.18.0.5, ports: { http1: 30615 } }]
`;

function querySet(): [string, string][] {
  const q: [string, string][] = [];
  for (const n of SEED_NAMES) q.push([n, 'A'], [n, 'AAAA'], [n, 'MX'], [`x.${n}`, 'A'], [`a.b.${n.toUpperCase()}`, 'AAAA']);
  q.push(['istio-system', 'A'], ['pilot', 'A'], ['xistio-pilot', 'A']);
  for (const n of ['productpage.default.svc.cluster.local', 'details.default.svc.cluster.local', 'nope.default.svc.cluster.local', 'svc.cluster.local', 'cluster.local']) q.push([n, 'A'], [n, 'AAAA']);
  q.push([GLOBAL.host, 'A'], [GLOBAL.host, 'AAAA'], [GLOBAL.host, 'MX'], [`x.${GLOBAL.host}`, 'A'], ['reviews.bar.global', 'A'], ['HTTPBIN.Bar.Global', 'A']);
  q.push(['www.example.com', 'A'], ['www.example.com', 'AAAA'], ['example.com', 'A'], ['nothing.invalid', 'A'], ['a.b.c.d.e', 'TXT']);
  return q;
}

void describe('dns differential: agent vs dnsmasq with the equivalent file', () => {
  let ns: Netns;
  let agent: AgentHandle;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-dns-diff-'));
    await writeFile(join(dir, 'se.yaml'), SE);
    ns = await createNetns('dns');
    await startDnsmasq(ns, KUBE_DNS, ['--address=/productpage.default.svc.cluster.local/10.233.0.10', '--address=/details.default.svc.cluster.local/10.233.0.11', '--local=/svc.cluster.local/']);
    await startDnsmasq(ns, UPSTREAM, ['--address=/example.com/93.184.215.14', '--address=/#/']);
    const file = [
      `server=/svc.cluster.local/${KUBE_DNS}`,
      ...SEED_NAMES.flatMap((n) => [`address=/${n}/${SEED_IP}`, `local=/${n}/`]),
      `host-record=${GLOBAL.host},${GLOBAL.address}`,
      `server=${UPSTREAM}`,
    ].join('\n');
    await writeFile(join(dir, 'reference.conf'), `${file}\n`);
    await startDnsmasq(ns, REFERENCE, [`--conf-file=${join(dir, 'reference.conf')}`]);
    agent = await startAgent({
      ns,
      config: {
        dns: {
          enabled: true,
          listen: [`${AGENT}:53`],
          upstreams: [UPSTREAM],
          hosts: SEED_NAMES.map((name) => ({ name, addresses: [SEED_IP] })),
          forward: [{ domain: 'svc.cluster.local', servers: [KUBE_DNS] }],
          serviceEntries: { paths: [join(dir, 'se.yaml')] },
        },
      },
    });
    await agent.waitReady();
  });

  after(async () => {
    await agent?.cleanup();
    await ns?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  void test('rcode and answer RRset are identical for every query', async () => {
    const queries = querySet();
    const differences: string[] = [];
    let answered = 0;
    for (let i = 0; i < queries.length; i += 8) {
      await Promise.all(
        queries.slice(i, i + 8).map(async ([name, type]) => {
          const [ours, ref] = await Promise.all([dig(ns, AGENT, name, type), dig(ns, REFERENCE, name, type)]);
          if (ref.status === 'NOERROR' && ref.answers.length > 0) answered += 1;
          if (ours.status !== ref.status || JSON.stringify(ours.answers) !== JSON.stringify(ref.answers)) {
            differences.push(`${name} ${type}: agent ${ours.status} ${JSON.stringify(ours.answers)} vs dnsmasq ${ref.status} ${JSON.stringify(ref.answers)}`);
          }
        }),
      );
    }
    assert.deepEqual(differences, []);
    assert.ok(answered > 20, 'the set exercises positive answers, not only errors');
    assert.ok(queries.length > 80);
  });
});
