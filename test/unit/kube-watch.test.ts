/** The pure parts of list + watch: line splitting, event decoding, object checks, diffing, paths, backoff, access wording. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeAccess } from '../../src/kube/access-review.js';
import { isGone, KubeApiError } from '../../src/kube/api-error.js';
import { backoffDelay } from '../../src/kube/backoff.js';
import { resourcePath, withQuery } from '../../src/kube/client.js';
import { diffObjects } from '../../src/kube/diff.js';
import { checkObject, type KubeObject } from '../../src/kube/objects.js';
import { LineSplitter, decodeWatchLine } from '../../src/kube/watch-decoder.js';

const obj = (name: string, rv: string, namespace?: string): KubeObject => ({ metadata: { name, resourceVersion: rv, ...(namespace === undefined ? {} : { namespace }) } });

test('lines: split across chunks and inside a UTF-8 character, blank lines skipped, an oversized line stops after the lines before it', () => {
  const s = new LineSplitter(64);
  const text = Buffer.from('{"a":"é"}\n\n{"b":2}\n{"c"');
  const cut = text.indexOf(0xc3) + 1; // between the two bytes of é
  assert.deepEqual(s.push(text.subarray(0, cut)), []);
  assert.deepEqual(s.push(text.subarray(cut)), ['{"a":"é"}', '{"b":2}']);
  assert.equal(s.pending(), 4);
  assert.deepEqual(s.push(Buffer.from(':3}\n')), ['{"c":3}']);
  assert.deepEqual(s.push(Buffer.from(`ok\n${'x'.repeat(65)}\nlater\n`)), ['ok']);
  assert.equal(s.overflowed, true);
  assert.deepEqual(s.push(Buffer.from('more\n')), [], 'nothing after an overflow');
  const held = new LineSplitter(8);
  assert.deepEqual(held.push(Buffer.from('12345')), []);
  assert.deepEqual(held.push(Buffer.from('6789')), []);
  assert.equal(held.overflowed, true, 'a line held over several chunks counts whole');
});

test('watch lines decode to events, or to a problem saying whether the stream is still usable', () => {
  const added = decodeWatchLine(JSON.stringify({ type: 'ADDED', object: obj('n1', '7') }));
  assert.deepEqual(added, { ok: true, event: { type: 'ADDED', object: obj('n1', '7'), key: 'n1' } });
  const ns = decodeWatchLine(JSON.stringify({ type: 'DELETED', object: obj('se', '9', 'istio-system') }));
  assert.equal(ns.ok && ns.event.type === 'DELETED' && ns.event.key, 'istio-system/se');
  assert.deepEqual(decodeWatchLine('{"type":"BOOKMARK","object":{"kind":"Node","metadata":{"resourceVersion":"12","creationTimestamp":null}}}'), { ok: true, event: { type: 'BOOKMARK', resourceVersion: '12' } });
  assert.deepEqual(decodeWatchLine('{"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 5 (9)","reason":"Expired","code":410}}'), {
    ok: true,
    event: { type: 'ERROR', status: { code: 410, reason: 'Expired', message: 'too old resource version: 5 (9)' } },
  });
  assert.deepEqual(decodeWatchLine('{"type":"ADDED"'), { ok: false, fatal: true, problem: 'not JSON: "{\\"type\\":\\"ADDED\\""' });
  assert.deepEqual(decodeWatchLine('[1]'), { ok: false, fatal: true, problem: 'not a JSON object' });
  assert.deepEqual(decodeWatchLine('{"type":"SYNC","object":{}}'), { ok: false, fatal: true, problem: 'unknown event type "SYNC"' });
  assert.deepEqual(decodeWatchLine('{"type":"MODIFIED","object":{"metadata":{"name":"n1","resourceVersion":"8","annotations":{"a":1}}}}'), {
    ok: false, fatal: false, problem: 'MODIFIED event: metadata.annotations is not a map of strings', key: 'n1', resourceVersion: '8',
  });
  assert.deepEqual(decodeWatchLine('{"type":"ADDED","object":{"metadata":{"name":"n1"}}}'), { ok: false, fatal: false, problem: 'ADDED event: metadata.resourceVersion is missing or not a string', key: 'n1' });
  assert.deepEqual(decodeWatchLine('{"type":"BOOKMARK","object":{}}'), { ok: false, fatal: false, problem: 'BOOKMARK event without metadata.resourceVersion' });
});

test('objects: a name, a resourceVersion, string maps; nothing that could escape a key', () => {
  assert.deepEqual(checkObject(obj('a', '1')), { ok: true, object: obj('a', '1'), key: 'a' });
  const bad: [unknown, string][] = [
    [null, 'not a JSON object'],
    [{ kind: 'Node' }, 'no metadata'],
    [{ metadata: { name: 5, resourceVersion: '1' } }, 'metadata.name is missing or not a name'],
    [{ metadata: { name: '', resourceVersion: '1' } }, 'metadata.name is missing or not a name'],
    [{ metadata: { name: 'a/b', resourceVersion: '1' } }, 'metadata.name is missing or not a name'],
    [{ metadata: { name: 'x'.repeat(254), resourceVersion: '1' } }, 'metadata.name is missing or not a name'],
    [{ metadata: { name: 'a', namespace: ['x'], resourceVersion: '1' } }, 'metadata.namespace is not a name'],
    [{ metadata: { name: 'a', resourceVersion: 7 } }, 'metadata.resourceVersion is missing or not a string'],
    [{ metadata: { name: 'a', resourceVersion: '1', labels: ['x'] } }, 'metadata.labels is not a map of strings'],
  ];
  for (const [value, problem] of bad) {
    const checked = checkObject(value);
    assert.equal(checked.ok ? '' : checked.problem, problem, JSON.stringify(value));
  }
});

test('diff: added, modified (by resourceVersion), deleted, in key order; nothing for an unchanged map', () => {
  const before = new Map([['a', obj('a', '1')], ['b', obj('b', '2')], ['c', obj('c', '3')]]);
  const after = new Map([['a', obj('a', '1')], ['b', obj('b', '5')], ['d', obj('d', '6')]]);
  assert.deepEqual(diffObjects(before, after), [
    { type: 'modified', key: 'b', object: obj('b', '5'), previous: obj('b', '2') },
    { type: 'deleted', key: 'c', object: obj('c', '3') },
    { type: 'added', key: 'd', object: obj('d', '6') },
  ]);
  assert.deepEqual(diffObjects(before, new Map(before)), []);
  assert.equal(diffObjects(before, new Map()).length, 3);
});

test('paths are built from checked names only; queries skip unset values', () => {
  assert.equal(resourcePath({ version: 'v1', resource: 'nodes' }), '/api/v1/nodes');
  assert.equal(resourcePath({ version: 'v1', resource: 'nodes', name: 'vm-1', subresource: 'status' }), '/api/v1/nodes/vm-1/status');
  assert.equal(resourcePath({ group: 'networking.istio.io', version: 'v1beta1', resource: 'serviceentries', namespace: 'istio-system' }), '/apis/networking.istio.io/v1beta1/namespaces/istio-system/serviceentries');
  for (const name of ['../secrets', 'a/b', 'A', '', 'x?watch=1', 'a..b']) {
    assert.throws(() => resourcePath({ version: 'v1', resource: 'nodes', name }), (err: unknown) => err instanceof Error && /is not a Kubernetes name/.test(err.message), name);
  }
  assert.throws(() => resourcePath({ version: 'v1', resource: 'nodes', subresource: 'status' }), /needs a name/);
  assert.equal(withQuery('/api/v1/nodes', { labelSelector: 'a=b,c in (d)', limit: 5, continue: undefined, fieldSelector: '' }), '/api/v1/nodes?labelSelector=a%3Db%2Cc+in+%28d%29&limit=5');
});

test('410 is recognised by HTTP status, Status code or reason; errors carry the Status', () => {
  const gone = new KubeApiError({ method: 'WATCH', path: '/api/v1/nodes', status: 410, reason: 'Expired', message: 'too old resource version: 5 (9)' });
  assert.equal(gone.message, 'WATCH /api/v1/nodes: 410 Expired: too old resource version: 5 (9)');
  assert.ok(isGone(gone));
  assert.ok(isGone(new KubeApiError({ method: 'GET', path: '/x', status: 200, code: 410 })));
  assert.ok(!isGone(new KubeApiError({ method: 'GET', path: '/x', status: 500, reason: 'InternalError' })));
  assert.ok(!isGone(new Error('410')));
  assert.equal(new KubeApiError({ method: 'GET', path: '/x', status: 0, message: 'from https://a: connect ECONNREFUSED' }).message, 'GET /x: no answer: from https://a: connect ECONNREFUSED');
});

test('backoff doubles from 250 ms to a 10 s cap, with ±20 % jitter', () => {
  const at = (attempt: number, r: number): number => backoffDelay(attempt, { initialMs: 250, maxMs: 10_000, random: () => r });
  assert.equal(at(0, 0.5), 250);
  assert.equal(at(1, 0.5), 500);
  assert.equal(at(0, 0), 200);
  assert.equal(at(0, 0.999), 300);
  assert.equal(at(10, 0.5), 10_000);
  assert.equal(at(99, 0.999), 10_000, 'never past the cap');
});

test('access checks read as RBAC rules', () => {
  assert.equal(describeAccess({ verb: 'patch', group: '', resource: 'nodes', subresource: 'status' }), 'patch nodes/status (cluster-wide)');
  assert.equal(describeAccess({ verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-flannel', name: 'kube-flannel-cfg' }), 'get configmaps "kube-flannel-cfg" in namespace kube-flannel');
  assert.equal(describeAccess({ verb: 'watch', group: 'networking.istio.io', resource: 'serviceentries' }), 'watch serviceentries.networking.istio.io (cluster-wide)');
});
