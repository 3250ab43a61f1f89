/**
 * The status page rendered from documents built here: every section's values, the overlay's
 * graceful degradation across /status shapes, and hostile strings in every field that reaches the
 * page (leases, ServiceEntry names, config, error messages), which must stay text.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { PAGE_HEADERS, renderStatusPage } from '../../src/status/page.js';
import type { StatusDocument, StatusHistory } from '../../src/status/status-document.js';
import { decodeEntities, pageValues } from '../helpers/page-values.js';
import { statusDocument } from '../helpers/status-fixture.js';

const NOW = Date.parse('2026-11-01T12:00:00Z');
const HISTORY: StatusHistory = { intervalSeconds: 10, windowSeconds: 600, points: [30, 20, 10].map((ago, i) => ({ at: NOW - ago * 1000, dnsQps: [2, 4, 8][i] ?? null, dnsCacheHitRatio: i === 0 ? null : 0.5 })) };
const RUNNING = { enabled: true, state: 'running', ready: true, errors: 0 } as const;

function fullDocument(text: (field: string) => string): StatusDocument {
  return statusDocument({
    hostname: text('hostname'),
    config: { path: text('path'), envFiles: [], generation: 3, warnings: [text('warning')], lastReload: { ok: false, at: '2026-11-01T11:00:00Z', error: text('reloadError') } },
    controllers: {
      identity: { ...RUNNING, spiffeId: text('spiffe'), protocol: 'istiod', caAddress: text('ca'), certDir: '/etc/certs', certificate: 'valid', serial: text('serial'), notBefore: '2026-11-01T09:55:00Z', issuedAt: '2026-11-01T10:00:00Z', notAfter: '2026-11-01T14:00:00Z', rotateAt: '2026-11-01T13:00:00Z', nextRotation: '2026-11-01T13:00:00Z', schedule: text('schedule'), consecutiveFailures: 0, lastError: { message: text('identityError'), at: '2026-11-01T10:30:00Z' } },
      overlay: {
        ...RUNNING,
        device: { name: text('device'), vni: 1, port: 8472, mtu: 1450, mac: 'aa:bb:cc:dd:ee:ff', vtep: '10.234.3.0', subnet: '10.234.3.0/24', underlay: { name: 'eth0', address: '192.168.0.81', mtu: 1500 }, lastActions: [] },
        peers: { desired: 2, programmed: 1, failed: [text('peerSubnet')], list: [{ subnet: '10.234.1.0/24', publicIP: '192.168.0.73', vtepMAC: '7a:b4:48:5f:69:56', source: 'etcd', programmed: true }, { subnet: text('peerSubnet'), publicIP: text('peerIP'), vtepMAC: text('peerMAC'), source: 'etcd', programmed: false, reason: text('peerReason') }] },
        refused: [{ source: 'etcd', key: text('leaseKey'), subnet: '10.234.9.0/24', publicIP: text('leaseIP'), vtepMAC: text('leaseMAC'), reason: 'public-ip-claimed', message: text('leaseMessage') }],
        refusedCount: 3,
        retrying: [],
        sources: { etcd: { peers: 2, connected: false, reason: text('etcdReason') } },
        lastResync: null,
        driftRepairs: 4,
        eventMonitor: { running: true, restarts: 0 },
        reconcileErrors: 0,
        lastReconcileError: null,
      },
      dns: { ...RUNNING, listeners: [], queries: 42, bySource: {}, byRcode: {}, dropped: 0, truncated: 0, refusedOverload: 0, coalesced: 0, inFlight: 0, cache: { size: 3, capacity: 100, hits: 1, misses: 1, hitRate: 0.5 }, upstreams: { source: 'config', servers: [], health: [{ server: text('upstream'), healthy: false, consecutiveFailures: 1, queries: 5, failures: 1, caseEcho: 'yes', caseMismatches: 0 }] }, hosts: 1, mesh: { hosts: 2, allocated: [], loads: 1, lastLoad: undefined, problems: [{ file: text('file'), reason: text('problem') }] } },
      capture: { ...RUNNING, ready: false, reason: text('captureReason'), backend: 'nft', rulesApplied: { ipv4: 20, ipv6: 18 }, verified: false, lastApply: '2026-11-01T11:59:00Z', lastVerify: '2026-11-01T11:59:30Z', lastDrift: [text('drift')], driftRepairs: 2, captureErrors: 1, lastCaptureError: { message: text('captureError'), at: '2026-11-01T11:59:30Z' }, proxy: null, agent: null, dns: { enabled: false } },
    },
  });
}

const HOSTILE = ['<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>', '</script><script>alert(1)</script>', "'-alert(1)-'", '</td></tr></table><iframe src=//x>', '&lt;b&gt;'];

describe('status page', () => {
  test('each section shows its values', () => {
    const values = pageValues(renderStatusPage(fullDocument((f) => `v-${f}`), HISTORY, NOW));
    const one = (key: string): string => {
      const v = values.get(key);
      assert.ok(v !== undefined && v.length === 1, `${key}: ${JSON.stringify(v)}`);
      return v[0] ?? '';
    };
    assert.equal(one('agent.hostname'), 'v-hostname');
    assert.equal(one('config.generation'), '3');
    assert.equal(one('ctl.capture.state'), 'not ready');
    assert.equal(one('ctl.capture.note'), 'v-captureReason');
    assert.equal(one('ctl.dns.state'), 'ready');
    assert.equal(one('identity.spiffeId'), 'v-spiffe');
    // Issued 10:00, rotation 13:00, expiry 14:00, now 12:00: half elapsed, rotation at 75 %.
    assert.equal(one('identity.elapsedPct'), '50%');
    assert.equal(one('identity.rotationPct'), '75%');
    assert.equal(one('identity.remaining'), '2h 0m left');
    assert.deepEqual(values.get('overlay.peer.subnet'), ['10.234.1.0/24', 'v-peerSubnet']);
    assert.deepEqual(values.get('overlay.peer.state'), ['programmed', 'not programmed: v-peerReason']);
    assert.deepEqual(values.get('overlay.refused.publicIP'), ['v-leaseIP']);
    assert.deepEqual(values.get('overlay.refused.reason'), ['public-ip-claimed: v-leaseMessage']);
    assert.equal(one('overlay.refused.more'), '2 more not shown (see /status)');
    assert.equal(one('overlay.sources'), 'etcd (2 peers, disconnected: v-etcdReason)');
    assert.equal(one('overlay.device'), 'v-device, VNI 1, MTU 1450');
    assert.equal(one('dns.qps.last'), '8');
    assert.equal(one('dns.qps.points'), '3');
    assert.equal(one('dns.hitRatio.points'), '2', 'a null ratio is a gap, not a zero');
    assert.equal(one('capture.rules'), '38 (IPv4 20, IPv6 18)');
    assert.equal(one('capture.lastVerify'), '2026-11-01 11:59:30Z 30s ago');
  });

  test('an overlay without peers or refusals says so', () => {
    const bare = pageValues(renderStatusPage(statusDocument({ controllers: { overlay: { ...RUNNING } } }), { intervalSeconds: 0, windowSeconds: 0, points: [] }, NOW));
    assert.deepEqual(bare.get('overlay.state'), ['ready']);
    assert.ok(bare.has('overlay.peers.none'));
    assert.ok(bare.has('overlay.refused.none'));
  });

  test('disabled and failed controllers say so', () => {
    const values = pageValues(renderStatusPage(statusDocument({ ready: false, controllers: { identity: { enabled: true, state: 'failed', ready: false, errors: 1, lastError: { message: 'CA root refused', at: '2026-11-01T11:00:00Z' } } } }), HISTORY, NOW));
    assert.deepEqual(values.get('identity.state'), ['failed']);
    assert.deepEqual(values.get('identity.problem'), ['CA root refused']);
    assert.deepEqual(values.get('dns.state'), ['disabled']);
    assert.deepEqual(values.get('agent.ready'), ['NOT READY']);
  });

  test('hostile strings in every field stay text', () => {
    for (const payload of HOSTILE) {
      const page = renderStatusPage(fullDocument((f) => `${f}:${payload}`), HISTORY, NOW);
      const scripts = page.match(/<script\b/gi) ?? [];
      assert.equal(scripts.length, 1, `only the page's own script (payload ${payload})`);
      const outside = page.replace(/<script>[\s\S]*?<\/script>/, '').replace(/<style>[\s\S]*?<\/style>/, '');
      for (const tag of outside.match(/<[a-zA-Z][^>]*>/g) ?? []) {
        assert.doesNotMatch(tag, /^<(img|iframe|script)\b|\son\w+=/i, `injected markup ${tag} (payload ${payload})`);
      }
      // Every field round-trips as the same text.
      const values = pageValues(page);
      assert.deepEqual(values.get('agent.hostname'), [`hostname:${payload}`]);
      assert.deepEqual(values.get('overlay.refused.publicIP')?.[0], `leaseIP:${payload}`);
      assert.deepEqual(values.get('dns.problem'), [`file:${payload}: problem:${payload}`]);
      const title = /<title>([^<]*)<\/title>/.exec(page)?.[1] ?? '';
      assert.equal(decodeEntities(title), `mesh-node-agent hostname:${payload} (ready)`, 'the title is escaped too');
    }
  });

  test('the Content-Security-Policy allows exactly the page\'s own script and style', () => {
    const page = renderStatusPage(statusDocument(), HISTORY, NOW);
    const csp = PAGE_HEADERS['content-security-policy'] ?? '';
    const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)?.[1] ?? '';
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1] ?? '';
    assert.ok(csp.includes(`script-src ${hash(script)}`), csp);
    assert.ok(csp.includes(`style-src ${hash(style)}`), csp);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(page, /\sstyle="/, 'no style attributes (the CSP would block them)');
    assert.doesNotMatch(page, /\b(src|href)="(?!data:)/, 'nothing loaded from anywhere');
  });
});
