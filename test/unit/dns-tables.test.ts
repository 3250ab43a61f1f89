import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { HostsTable } from '../../src/dns/hosts-table.js';
import { buildMeshTable } from '../../src/dns/mesh-table.js';
import { DomainTable } from '../../src/dns/names.js';
import { allocateVips } from '../../src/dns/vip.js';

void describe('dns names: dnsmasq-style matching', () => {
  void test('a rule covers the name and its subdomains, most specific wins, whole labels only', () => {
    const table = new DomainTable(
      new Map([
        ['google.com', 'g'],
        ['www.google.com', 'w'],
        ['svc.cluster.local', 'k'],
      ]),
    );
    const matchSubtree = (t: DomainTable<string>, name: string): string | undefined => t.matchSubtree(name);
    assert.equal(matchSubtree(table, 'google.com'), 'g');
    assert.equal(matchSubtree(table, 'a.b.google.com'), 'g');
    assert.equal(matchSubtree(table, 'x.www.google.com'), 'w');
    assert.equal(matchSubtree(table, 'supergoogle.com'), undefined);
    assert.equal(matchSubtree(table, 'productpage.default.svc.cluster.local'), 'k');
    assert.equal(matchSubtree(table, 'cluster.local'), undefined);
    // An escaped dot inside a label is not a boundary.
    assert.equal(matchSubtree(table, 'evil\\.google.com'), undefined);
    // Same length and first letter as a key, other letters: still no match.
    assert.equal(matchSubtree(table, 'x.goggle.com'), undefined);
  });

  void test('the root rule covers every name; parents-only matching never returns the name itself or the root', () => {
    const withRoot = new DomainTable(new Map([['', 'root'], ['example.com', 'e']]));
    assert.equal(withRoot.matchSubtree('a.example.com'), 'e');
    assert.equal(withRoot.matchSubtree('other.org'), 'root');
    assert.equal(withRoot.matchSubtree(''), 'root');
    const wild = new DomainTable(new Map([['', 'root'], ['example.com', 'e'], ['b.example.com', 'b']]));
    assert.equal(wild.matchAbove('example.com'), undefined, 'not the apex');
    assert.equal(wild.matchAbove('x.example.com'), 'e');
    assert.equal(wild.matchAbove('y.b.example.com'), 'b', 'most specific parent');
    assert.equal(wild.matchAbove('b.example.com'), 'e');
    assert.equal(wild.matchAbove('org'), undefined, 'never the root');
    assert.equal(new DomainTable<string>().matchSubtree('a.b'), undefined);
  });

  void test('parents are matched in place among few keys of a shape and by lookup among many: same answers', () => {
    // 'n00.ns.global' ... 'n39.ns.global' share length and first letter: 40 keys of one shape.
    const keys = Array.from({ length: 40 }, (_, i) => `n${String(i).padStart(2, '0')}.ns.global`);
    for (const count of [3, 40]) {
      const table = new DomainTable(new Map(keys.slice(0, count).map((k, i) => [k, i])));
      assert.equal(table.matchSubtree('a.n01.ns.global'), 1, `${count} keys`);
      assert.equal(table.matchSubtree(`x.y.n0${count === 3 ? 2 : 9}.ns.global`), count === 3 ? 2 : 9);
      assert.equal(table.matchAbove('n02.ns.global'), undefined, 'the name itself is not above');
      assert.equal(table.matchAbove('z.n02.ns.global'), 2);
      assert.equal(table.matchSubtree('a.n99.ns.global'), undefined, 'same shape, no such key');
      assert.equal(table.matchSubtree('a.m01.ns.global'), undefined);
    }
  });
});

void describe('dns hosts table', () => {
  void test('dns.hosts names answer for themselves and all subdomains, case-insensitively; duplicates merge', () => {
    const t = HostsTable.build(
      [
        { name: 'Istio-Pilot', addresses: ['192.168.0.62'] },
        { name: 'istio-pilot.', addresses: ['fd00::62'] },
        { name: 'istio-citadel.istio-system', addresses: ['192.168.0.63'] },
      ],
      30,
    );
    assert.deepEqual(t.lookup('istio-pilot')?.addresses, ['192.168.0.62', 'fd00::62']);
    assert.deepEqual(t.lookup('a.b.istio-pilot')?.addresses, ['192.168.0.62', 'fd00::62']);
    assert.equal(t.lookup('istio-system'), undefined);
    assert.equal(t.lookup('xistio-pilot'), undefined);
    assert.deepEqual(t.lookup('istio-citadel.istio-system')?.addresses, ['192.168.0.63']);
  });
});

const SE = (name: string, hosts: string[], addresses?: string[]): string =>
  ['apiVersion: networking.istio.io/v1alpha3', 'kind: ServiceEntry', `metadata: { name: ${name} }`, 'spec:', `  hosts: ${JSON.stringify(hosts)}`, ...(addresses === undefined ? [] : [`  addresses: ${JSON.stringify(addresses)}`]), '  location: MESH_INTERNAL', '  resolution: DNS'].join('\n');

void describe('dns mesh table from ServiceEntry manifests', () => {
  void test('.global hosts with addresses, merged entries, wildcards (subdomains only), /32 CIDRs, other kinds ignored', () => {
    const text = [
      SE('httpbin-bar', ['httpbin.bar.global'], ['240.0.0.2']),
      SE('httpbin-bar-2', ['HTTPBIN.bar.global'], ['240.0.0.3/32', '10.0.0.0/8']),
      SE('wild', ['*.wild.example'], ['240.0.0.9']),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\ndata: { a: b }',
    ].join('\n---\n');
    const { table, problems } = buildMeshTable([{ file: 'se.yaml', text }], '240.240.0.0/16', 30);
    assert.deepEqual(problems, []);
    assert.deepEqual(table.lookup('httpbin.bar.global')?.addresses, ['240.0.0.2', '240.0.0.3']);
    assert.deepEqual(table.lookup('a.b.wild.example')?.addresses, ['240.0.0.9']);
    assert.equal(table.lookup('wild.example'), undefined, 'a wildcard does not cover its apex');
    assert.equal(table.lookup('other.bar.global'), undefined);
  });

  void test('entries without addresses get stable VIPs from autoAllocate; wildcards without addresses get none', () => {
    const text = [SE('a', ['a.ns.global', 'b.ns.global']), SE('w', ['*.nowhere.example'])].join('\n---\n');
    const first = buildMeshTable([{ file: 'x.yaml', text }], '240.240.0.0/16', 30);
    const again = buildMeshTable([{ file: 'y.yaml', text: `${SE('zzz', ['zzz.other.global'])}\n---\n${text}` }], '240.240.0.0/16', 30);
    const a = first.table.lookup('a.ns.global')?.addresses[0];
    assert.match(a ?? '', /^240\.240\.\d+\.\d+$/);
    assert.notEqual(a, first.table.lookup('b.ns.global')?.addresses[0]);
    assert.equal(again.table.lookup('a.ns.global')?.addresses[0], a, 'adding another entry keeps existing VIPs');
    assert.equal(first.table.lookup('x.nowhere.example'), undefined);
    assert.ok(first.table.hosts.find((h) => h.host === 'a.ns.global')?.allocated);
  });

  void test('VIP collisions are resolved deterministically and never reuse manifest addresses', () => {
    // A /30 has 2 usable addresses: three hosts cannot all fit.
    const r = allocateVips(['a', 'b', 'c'], '10.0.0.0/30', new Set());
    assert.equal(r.vips.size, 2);
    assert.equal(r.failed.length, 1);
    assert.equal(new Set(r.vips.values()).size, 2);
    const reserved = allocateVips(['a', 'b'], '10.0.0.0/30', new Set(['10.0.0.1']));
    assert.equal(reserved.vips.size, 1);
    assert.equal([...reserved.vips.values()][0], '10.0.0.2');
    assert.deepEqual(allocateVips(['b', 'a', 'c'], '10.0.0.0/30', new Set()), r);
  });

  void test('a bad manifest is reported with file and reason', () => {
    const bad = buildMeshTable(
      [
        { file: '/etc/se/good.yaml', text: SE('ok', ['ok.ns.global'], ['240.0.0.5']) },
        { file: '/etc/se/broken.yaml', text: 'kind: ServiceEntry\nspec: { hosts: [a.b' },
        { file: '/etc/se/nohosts.yaml', text: 'kind: ServiceEntry\nmetadata: { name: nh }\nspec: { addresses: [1.2.3.4] }' },
        { file: '/etc/se/badaddr.yaml', text: SE('ba', ['x.y.global'], ['not-an-ip']) },
      ],
      '240.240.0.0/16',
      30,
    );
    const files = bad.problems.map((p) => p.file);
    assert.deepEqual(files, ['/etc/se/broken.yaml', '/etc/se/nohosts.yaml', '/etc/se/badaddr.yaml']);
    assert.match(bad.problems[1]?.reason ?? '', /ServiceEntry "nh": spec.hosts must be a non-empty list/);
    assert.match(bad.problems[2]?.reason ?? '', /"not-an-ip" is not an IP or CIDR/);
  });
});
