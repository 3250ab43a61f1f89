/**
 * What an operator sees of a running agent: the seed scenario (identity from an istiod CA, overlay
 * from flannel's etcd, capture, DNS) plus a hostile lease and some DNS traffic, then
 *  - the status page in headless Chromium, with and without JavaScript: each section's values
 *    against /status, the lifetime bar, the DNS charts; a screenshot saved as a test artifact;
 *  - /metrics: the standard process_* and nodejs_* names, Prometheus naming, and every metric the
 *    Grafana dashboard uses; a real Prometheus scraping the agent evaluates every dashboard query.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatPercent, formatTime } from '../../src/status/page-format.js';
import type { StatusDocument } from '../../src/status/status-document.js';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { chromiumInstalled, launchChromium, type Browser } from '../helpers/chromium.js';
import { asPrometheusQuery, exposedTypes, familyOf, loadDashboard, metricNames, queries } from '../helpers/dashboard.js';
import { waitFor } from '../helpers/exec.js';
import { pageValues } from '../helpers/page-values.js';
import { testPort } from '../helpers/ports.js';
import { prometheusInstalled, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { ETCD_ENDPOINT, ETCD_PREFIX, SEED_NODES, SEED_VM } from '../helpers/seed-topology.js';
import { flannelLeaseJson, leaseKey } from '../helpers/registry-flannel.js';
import { fetchHistory, fetchStatus, running } from '../helpers/status-client.js';
import { EXPECTED_SPIFFE, runScenario, type Scenario } from './scenario.js';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const PAGE_URL = 'http://127.0.0.1:15030/';
/** A lease that claims kube01's public IP for another subnet: the peer gate refuses it. */
const HOSTILE = { subnet: '10.234.9.0/24', publicIP: SEED_NODES[0]?.ip ?? '', vtepMAC: '02:00:00:00:09:09' };
const NAMES = ['nginx-v1.default.svc.cluster.local', 'httpbin.default.svc.cluster.local', 'istio-pilot', 'httpbin.bar.global'];

/** Values that change from second to second; compared by form, not equality, across two readings. */
const MOVING = /^(agent\.uptime|page\.live|identity\.(elapsedPct|remaining|next)|capture\.(lastVerify|lastApply)|dns\.(queries|cache|inFlight|qps\.|hitRatio\.|upstream\.(queries|rtt|failures))|overlay\.driftRepairs|ctl\.\w+\.note)/;

type Values = Map<string, string[]>;

function one(values: Values, key: string): string {
  const v = values.get(key);
  assert.ok(v !== undefined && v.length === 1, `${key}: ${JSON.stringify(v)}`);
  return v[0] ?? '';
}

/** The stable values of a rendering checked against the /status document read beside it. */
function checkValues(values: Values, doc: StatusDocument): void {
  assert.equal(one(values, 'agent.hostname'), doc.hostname);
  assert.equal(one(values, 'agent.ready'), 'READY');
  assert.equal(one(values, 'agent.version'), doc.version);
  assert.equal(one(values, 'config.generation'), String(doc.config.generation));
  for (const name of ['identity', 'overlay', 'capture', 'dns']) {
    assert.equal(one(values, `ctl.${name}.state`), 'ready', `controller ${name}`);
    assert.equal(one(values, `${name}.state`), 'ready', `section ${name}`);
  }

  const identity = running(doc.controllers.identity);
  assert.equal(one(values, 'identity.spiffeId'), EXPECTED_SPIFFE);
  assert.equal(one(values, 'identity.certificate'), 'valid');
  assert.equal(one(values, 'identity.serial'), identity.serial);
  assert.equal(one(values, 'identity.issued'), formatTime(identity.issuedAt));
  assert.equal(one(values, 'identity.expires'), formatTime(identity.notAfter));
  assert.equal(one(values, 'identity.rotation'), formatTime(identity.rotateAt));
  const [issued, rotate, expires] = [identity.issuedAt, identity.rotateAt, identity.notAfter].map((t) => Date.parse(t ?? ''));
  const rotation = ((rotate ?? NaN) - (issued ?? NaN)) / ((expires ?? NaN) - (issued ?? NaN));
  assert.ok(rotation > 0 && rotation < 1, `rotation point inside the lifetime: ${rotation}`);
  assert.equal(one(values, 'identity.rotationPct'), formatPercent(rotation));
  assert.match(one(values, 'identity.elapsedPct'), /^\d+(\.\d)?%$/);
  assert.match(one(values, 'identity.remaining'), /^(\d+[dhms] ?)+ left$/);

  const overlay = running(doc.controllers.overlay);
  const nodes = [...SEED_NODES].sort((a, b) => a.subnet.localeCompare(b.subnet, 'en', { numeric: true }));
  assert.deepEqual(values.get('overlay.peer.subnet'), nodes.map((n) => n.subnet), 'peers in address order');
  assert.deepEqual(values.get('overlay.peer.publicIP'), nodes.map((n) => n.ip));
  assert.deepEqual(values.get('overlay.peer.mac'), nodes.map((n) => n.vtepMAC));
  assert.deepEqual(values.get('overlay.peer.state'), nodes.map(() => 'programmed'));
  assert.equal(one(values, 'overlay.programmed'), '3');
  assert.equal(one(values, 'overlay.subnet'), SEED_VM.subnet);
  assert.equal(one(values, 'overlay.mac'), overlay.device?.mac);
  assert.equal(one(values, 'overlay.underlay'), `eth0 ${SEED_VM.ip}`);
  assert.deepEqual(values.get('overlay.refused.subnet'), [HOSTILE.subnet]);
  assert.deepEqual(values.get('overlay.refused.publicIP'), [HOSTILE.publicIP]);
  assert.match(one(values, 'overlay.refused.reason'), /^public-ip-claimed: /);

  const capture = running(doc.controllers.capture);
  const { ipv4, ipv6 } = capture.rulesApplied;
  assert.ok(ipv4 > 0, 'capture rules installed');
  assert.equal(one(values, 'capture.rules'), `${ipv4 + ipv6} (IPv4 ${ipv4}, IPv6 ${ipv6})`);
  assert.equal(one(values, 'capture.verified'), 'yes');
  assert.match(one(values, 'capture.lastVerify'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ (\d+[dhms] ?)+ ago$/);

  assert.equal(one(values, 'dns.listeners'), '127.0.0.1:53');
  assert.match(one(values, 'dns.qps.last'), /^\d+(\.\d)?$/);
  assert.ok(Number(one(values, 'dns.qps.points')) >= 2, 'two or more qps points');
  assert.ok(Number(one(values, 'dns.hitRatio.points')) >= 1, 'a cache hit ratio point');
}

describe('what an operator sees', () => {
  let scenario: Scenario;
  let browser: Browser | undefined;
  let prometheus: PrometheusServer | undefined;

  before(async () => {
    assert.ok(chromiumInstalled(), 'chromium is missing: run `npm run bootstrap` (scripts/bootstrap.sh installs it)');
    assert.ok(prometheusInstalled(), 'prometheus is missing: run `npm run bootstrap` (scripts/bootstrap.sh installs it)');
    scenario = await runScenario(() => undefined);
    const { topology, agent } = scenario;
    await topology.lb.must('etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', leaseKey(HOSTILE.subnet, ETCD_PREFIX), flannelLeaseJson(HOSTILE.publicIP, HOSTILE.vtepMAC)]);
    await waitFor('the hostile lease refused', async () => running((await fetchStatus(agent)).controllers.overlay).refusedCount === 1, 20_000, 200);
    // Traffic until the 10 s history has two intervals with queries and one with cache lookups.
    await waitFor(
      'DNS history points',
      async () => {
        await topology.vm.run('dig', ['@127.0.0.1', '+time=2', '+tries=1', ...NAMES.flatMap((n) => [n, n, 'A'])]);
        const points = (await fetchHistory(agent)).points;
        return points.filter((p) => (p.dnsQps ?? 0) > 0).length >= 2 && points.some((p) => p.dnsCacheHitRatio !== null);
      },
      90_000,
      250,
    );
    browser = await launchChromium(topology.vm);
  });

  after(async () => {
    await browser?.close();
    await prometheus?.stop();
    await scenario?.teardown();
  });

  test('the status page in Chromium, refreshed by its script, shows each section from /status', async (t) => {
    const page = await browser!.open(PAGE_URL, { javascript: true, width: 1280, height: 900 });
    // The script ran (the CSP let it) and rebuilt the page from /status at least once.
    await waitFor('the page script to refresh', async () => Number(await page.evaluate<string | null>("document.documentElement.getAttribute('data-refreshes')")) >= 1, 20_000, 200);
    const dom = new Map(Object.entries(await page.evaluate<Record<string, string[]>>(`(() => { const out = {}; for (const e of document.querySelectorAll('[data-k]')) (out[e.getAttribute('data-k')] ||= []).push(e.textContent); return out; })()`)));
    const doc = await fetchStatus(scenario.agent);
    checkValues(dom, doc);
    assert.match(one(dom, 'page.live'), /^Live: refreshed every 5 s, last at /);

    // The lifetime bar: elapsed part drawn, rotation marked where the document puts it.
    const identity = running(doc.controllers.identity);
    const [issued, rotate, expires] = [identity.issuedAt, identity.rotateAt, identity.notAfter].map((x) => Date.parse(x ?? ''));
    const rotationX = Math.round((((rotate ?? 0) - (issued ?? 0)) / ((expires ?? 0) - (issued ?? 0))) * 1000);
    assert.equal(await page.evaluate<string | null>(`document.querySelector('[data-bar="rotation"]')?.getAttribute('x1') ?? null`), String(rotationX));
    assert.ok(Number(await page.evaluate<string>(`document.querySelector('[data-bar="elapsed"]').getAttribute('width')`)) > 0, 'elapsed part drawn');
    // Each chart has a drawn line with at least two points.
    for (const chart of ['dns.qps', 'dns.hitRatio']) {
      const lines = await page.evaluate<string[]>(`[...document.querySelectorAll('[data-chart="${chart}"] polyline')].map((p) => p.getAttribute('points'))`);
      assert.ok(lines.length >= 1 && lines.some((l) => l.trim().split(/\s+/).length >= 2), `${chart}: ${JSON.stringify(lines)}`);
    }

    // The script draws what the server drew: the same values under the same names.
    const server = pageValues((await scenario.agent.get('/')).body);
    const keys = (m: Values): string[] => [...m.keys()].filter((k) => k !== 'page.live').sort();
    assert.deepEqual(keys(dom), keys(server));
    for (const key of keys(server).filter((k) => !MOVING.test(k))) assert.deepEqual(dom.get(key), server.get(key), key);

    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'status-page.png');
    const png = await page.screenshot();
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    await writeFile(shot, png);
    t.diagnostic(`screenshot: ${shot}`);
  });

  test('without JavaScript the page is the server\'s text, complete', async () => {
    const page = await browser!.open(PAGE_URL, { javascript: false, width: 1280, height: 900 });
    const values = pageValues(await page.outerHTML());
    checkValues(values, await fetchStatus(scenario.agent));
    assert.equal(one(values, 'page.live'), 'Static page (no JavaScript): it reloads every 30 s.');
    assert.equal(await page.count('noscript'), 1);
    assert.equal(await page.count('[data-refreshes]'), 0, 'the script did not run');
    assert.equal(await page.count('[data-bar="rotation"]'), 1);
    assert.ok((await page.count('[data-chart="dns.qps"] polyline')) >= 1);
  });

  test('/metrics: standard names, Prometheus conventions, every metric the dashboard uses', async () => {
    const text = (await scenario.agent.get('/metrics')).body;
    const types = exposedTypes(text);
    assert.equal(types.get('process_resident_memory_bytes'), 'gauge');
    assert.equal(types.get('process_cpu_seconds_total'), 'counter');
    assert.equal(types.get('nodejs_heap_size_used_bytes'), 'gauge');
    assert.doesNotMatch(text, /mesh_node_agent_(process|nodejs)_/);
    for (const [name, type] of types) {
      if (!name.startsWith('mesh_node_agent_')) continue;
      if (type === 'counter') assert.match(name, /_total$/, `counter ${name}`);
      else assert.doesNotMatch(name, /_total$/, `${type} ${name}`);
      if (type === 'histogram') assert.match(name, /_seconds$/, `histogram ${name} in base units`);
    }
    const missing = queries(loadDashboard()).flatMap(({ panel, target }) => metricNames(target.expr).filter((n) => familyOf(n, types) === undefined).map((n) => `${panel.title}: ${n}`));
    assert.deepEqual(missing, [], 'dashboard metrics the agent does not export');
  });

  test('Prometheus scraping the agent evaluates every dashboard query, and every panel has data', async () => {
    prometheus = await startPrometheus(scenario.topology.vm, '127.0.0.1:15030', testPort());
    // rate() over a 10 s window needs two samples in it: wait for a few scrapes.
    await waitFor('three scrapes', async () => (await prometheus!.query(['count_over_time(up[1m]) >= 3']))[0]?.series === 1, 30_000, 500);
    const dashboard = loadDashboard();
    const all = queries(dashboard);
    const results = await prometheus.query(all.map(({ target }) => asPrometheusQuery(target.expr, '10s')));
    const failed = results.filter((r) => r.status !== 'success').map((r) => `${r.query}: ${r.error ?? r.status}`);
    assert.deepEqual(failed, [], 'queries Prometheus refused');
    const empty = dashboard.panels
      .filter((p) => p.type !== 'row')
      .filter((p) => !all.some(({ panel }, i) => panel === p && (results[i]?.series ?? 0) > 0))
      .map((p) => p.title);
    assert.deepEqual(empty, [], 'panels with no data');
  });
});
