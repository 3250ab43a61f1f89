/**
 * A hostile or broken API server: faults the real one never produces, so this one test uses a tiny
 * local HTTPS server that plays a script. Every bad answer (a list that is not JSON, objects
 * without metadata or with non-string labels, garbage and oversized watch lines, an unknown event
 * type, a bookmark without a version, an ERROR event) is refused and reported; the informer never
 * crashes, resumes or relists as each fault requires, and ends with exactly the valid objects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createLogger } from '../../src/log.js';
import { Informer } from '../../src/kube/informer.js';
import type { DroppedReport } from '../../src/kube/informer-status.js';
import { clientForTarget } from '../../src/kube/connect.js';
import { waitFor } from '../helpers/exec.js';
import { createRootCa, createServingCert } from '../helpers/pki.js';
import { NODES } from '../helpers/kube-fixtures.js';

const log = createLogger({ level: 'silent' });

const node = (name: string, rv: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ kind: 'Node', apiVersion: 'v1', metadata: { name, resourceVersion: String(rv), ...extra } });
const list = (rv: number, items: unknown[]): string => JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
const event = (type: string, object: unknown): string => JSON.stringify({ type, object });

/** Answers in order; the last watch stays open. */
const LISTS = [
  '<html>a proxy error page</html>',
  list(10, [node('v1', 5), { metadata: { resourceVersion: '6' } }, node('bad-labels', 7, { labels: { x: 1 } })]),
  list(16, [node('v1', 5), node('w2', 14), node('w3', 15)]),
  list(18, [node('v1', 5), node('w2', 14), node('w3', 15), node('w4', 17)]),
];
const WATCHES: string[][] = [
  [
    event('ADDED', node('w1', 11)),
    event('ADDED', { kind: 'Node' }),
    event('MODIFIED', node('w1', 12, { annotations: { a: 5 } })),
    event('ADDED', node('w2', 14)),
    '{"type":"ADDED","object":{"metadata":',
  ],
  [event('ADDED', node('w4', 17)), event('BOOKMARK', { kind: 'Node', metadata: {} }), event('ADDED', node('huge', 18, { annotations: { a: 'x'.repeat(5000) } }))],
  [event('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'internal error', reason: 'InternalError', code: 500 })],
  [event('WHATEVER', node('w9', 30))],
  [event('ADDED', node('w5', 19))],
];

test('a hostile API server: every bad answer is refused and reported, the informer ends with exactly the valid objects', async () => {
  const ca = await createRootCa('tkc-hostile-ca');
  const serving = await createServingCert(ca, ['localhost'], ['127.0.0.1']);
  const watchedFrom: string[] = [];
  const open = new Set<ServerResponse>();
  let lists = 0;
  let watches = 0;
  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    if (url.pathname !== NODES) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (url.searchParams.get('watch') !== '1') {
      res.end(LISTS[Math.min(lists++, LISTS.length - 1)]);
      return;
    }
    watchedFrom.push(url.searchParams.get('resourceVersion') ?? '');
    const lines = WATCHES[watches++];
    if (lines === undefined) {
      open.add(res);
      return;
    }
    res.write(lines.map((l) => `${l}\n`).join(''));
    // The watch with an ERROR event ends there, as the real server does; the others stay open.
    if (lines.some((l) => l.includes('"ERROR"'))) res.end();
    else open.add(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const client = await clientForTarget({ server: `https://127.0.0.1:${port}`, description: 'hostile', ca: { kind: 'data', data: Buffer.from(ca.certPem), origin: { key: 'test' } } }, { timeout: 5000 });
  const dropped: DroppedReport[] = [];
  const informer = new Informer({ client, path: NODES, log, maxLineBytes: 4096, backoff: { initialMs: 20, maxMs: 100 }, onDropped: (r) => dropped.push(r) });
  try {
    informer.start();
    await waitFor('w5 from the last watch', () => informer.list().has('w5'), 20_000);
    assert.deepEqual([...informer.list().keys()].sort(), ['v1', 'w2', 'w3', 'w4', 'w5']);
    assert.deepEqual(dropped.map((d) => (d.key === undefined ? d.problem : `${d.key}: ${d.problem}`)), [
      'metadata.name is missing or not a name',
      'bad-labels: metadata.labels is not a map of strings',
      'ADDED event: no metadata',
      'w1: MODIFIED event: metadata.annotations is not a map of strings',
      'not JSON: "{\\"type\\":\\"ADDED\\",\\"object\\":{\\"metadata\\":"',
      'BOOKMARK event without metadata.resourceVersion',
      'a watch line exceeded 4096 bytes',
      'unknown event type "WHATEVER"',
    ]);
    // Resumed from the last good version each time: after the bad MODIFIED (12) the garbage line
    // forced a relist (16); the oversized line another (18); the ERROR 500 a plain reconnect (18);
    // the unknown type a relist (18, the last list).
    assert.deepEqual(watchedFrom, ['10', '16', '18', '18', '18']);
    const status = informer.status();
    assert.equal(status.relists, 3);
    assert.equal(status.lists, 4);
    assert.ok(status.reconnects >= 2, 'the non-JSON list and the ERROR event were retried');
    assert.equal(status.dropped, 8);
    assert.deepEqual(status.invalid, {});
    assert.equal(status.connected, true);
  } finally {
    await informer.stop();
    client.close();
    for (const res of open) res.destroy();
    server.close();
  }
});
