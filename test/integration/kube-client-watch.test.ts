/**
 * The list+watch client against a real kube-apiserver (one per file, in its own namespace):
 * create/modify/delete seen, bookmarks, paging through a compacted continue token, and an outage
 * with compaction and a restart that ends in 410 Gone, a relist and exactly the missed changes.
 *
 * How the 410 is provoked: etcd compaction alone does not do it, because the API server's watch
 * cache still holds the window the watch resumes from. After a restart the cache starts at etcd's
 * current revision, so a watch from any older resourceVersion gets an ERROR event with code 410;
 * the test compacts etcd first so that no older revision exists anywhere.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/log.js';
import { KubeApiError } from '../../src/kube/api-error.js';
import type { KubeClient } from '../../src/kube/client.js';
import { createKubeClient } from '../../src/kube/connect.js';
import type { Change } from '../../src/kube/diff.js';
import { Informer, type ChangeCause, type InformerOptions } from '../../src/kube/informer.js';
import { listAll } from '../../src/kube/list-pager.js';
import { kubernetesSchema, kubernetesDefaults } from '../../src/kube/config-schema.js';
import { waitFor } from '../helpers/exec.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { NODES, nodeManifest } from '../helpers/kube-fixtures.js';

const log = createLogger({ level: 'silent' });
const FAST = { initialMs: 100, maxMs: 1000 };

interface Delivery {
  cause: ChangeCause;
  changes: string[];
  keys: string[];
}

function recorder(): { deliveries: Delivery[]; onChange: NonNullable<InformerOptions['onChange']> } {
  const deliveries: Delivery[] = [];
  const onChange = (changes: readonly Change[], objects: ReadonlyMap<string, unknown>, cause: ChangeCause): void => {
    deliveries.push({ cause, changes: changes.map((c) => `${c.type} ${c.key}`), keys: [...objects.keys()].sort() });
  };
  return { deliveries, onChange };
}

describe('kube client: list + watch on a real API server', () => {
  let api: KubeApiServer;
  let client: KubeClient;
  const run = randomBytes(3).toString('hex');

  before(async () => {
    api = await startKubeApiServer('tkcw');
    client = await createKubeClient(kubernetesSchema.parse({ ...kubernetesDefaults(), kubeconfig: api.env.KUBECONFIG }));
  });
  after(async () => {
    client?.close();
    await api?.cleanup();
  });

  const label = (test: string): Record<string, string> => ({ 'tkc-test': `${test}-${run}` });
  const createNode = (name: string, labels: Record<string, string>): Promise<unknown> => api.admin.create(NODES, nodeManifest(name, labels));

  test('sees create, modify and delete; pages its list; cluster-scoped keys are names', async () => {
    const sel = label('crud');
    await createNode(`a-${run}`, sel);
    await createNode(`b-${run}`, sel);
    const rec = recorder();
    const informer = new Informer({ client, path: NODES, labelSelector: `tkc-test=crud-${run}`, pageSize: 1, log, backoff: FAST, onChange: rec.onChange });
    try {
      informer.start();
      await informer.waitForSync(20_000);
      assert.deepEqual(rec.deliveries[0], { cause: 'list', changes: [`added a-${run}`, `added b-${run}`], keys: [`a-${run}`, `b-${run}`] });
      assert.equal(informer.status().connected, true);
      assert.equal(informer.list().get(`a-${run}`)?.metadata.managedFields, undefined, 'managedFields are not kept');

      await createNode(`c-${run}`, sel);
      await waitFor('c added', () => informer.list().has(`c-${run}`));
      const patched = await api.admin.patch(`${NODES}/a-${run}`, { metadata: { annotations: { 'flannel.alpha.coreos.com/public-ip': '192.168.7.1' } } });
      await waitFor('a modified', () => informer.list().get(`a-${run}`)?.metadata.resourceVersion === patched.metadata.resourceVersion);
      assert.equal(informer.list().get(`a-${run}`)?.metadata.annotations?.['flannel.alpha.coreos.com/public-ip'], '192.168.7.1');
      await api.admin.delete(`${NODES}/b-${run}`);
      await waitFor('b deleted', () => !informer.list().has(`b-${run}`));

      const watched = rec.deliveries.slice(1);
      assert.ok(watched.every((d) => d.cause === 'watch'));
      assert.deepEqual(watched.flatMap((d) => d.changes), [`added c-${run}`, `modified a-${run}`, `deleted b-${run}`]);
      assert.deepEqual(watched.at(-1)?.keys, [`a-${run}`, `c-${run}`]);
      const status = informer.status();
      assert.equal(status.events, 3);
      assert.equal(status.lists, 1);
      assert.equal(status.dropped, 0);
      assert.ok(BigInt(status.resourceVersion) > BigInt(patched.metadata.resourceVersion), 'the delete moved the resourceVersion on');
    } finally {
      await informer.stop();
    }
  });

  test('bookmarks advance the resourceVersion past changes the selector hides', async () => {
    await createNode(`seen-${run}`, label('bm'));
    await createNode(`hidden-${run}`, label('other'));
    // A 4 s watch gets its bookmark 2 s before its end (the server's rule), then reopens from it.
    const informer = new Informer({ client, path: NODES, labelSelector: `tkc-test=bm-${run}`, watchTimeoutSeconds: 4, log, backoff: FAST });
    try {
      informer.start();
      await informer.waitForSync(20_000);
      const listed = BigInt(informer.status().resourceVersion);
      let hidden = '';
      for (let i = 0; i < 3; i += 1) hidden = (await api.admin.patch(`${NODES}/hidden-${run}`, { metadata: { labels: { step: String(i) } } })).metadata.resourceVersion;
      assert.ok(BigInt(hidden) > listed);
      await waitFor('a bookmark past the hidden changes', () => informer.status().bookmarks > 0 && BigInt(informer.status().resourceVersion) >= BigInt(hidden), 20_000, 100);
      assert.deepEqual([...informer.list().keys()], [`seen-${run}`]);
      assert.equal(informer.status().events, 0, 'no event of the hidden node reached the informer');
    } finally {
      await informer.stop();
    }
  });

  test('a partition alone resumes the watch from the last resourceVersion: the missed change arrives as a watch event, no relist (field selector)', async () => {
    await createNode(`solo-${run}`, label('solo'));
    await createNode(`other-${run}`, label('solo'));
    const rec = recorder();
    const informer = new Informer({ client, path: NODES, fieldSelector: `metadata.name=solo-${run}`, log, backoff: FAST, onChange: rec.onChange });
    try {
      informer.start();
      await informer.waitForSync(20_000);
      assert.deepEqual([...informer.list().keys()], [`solo-${run}`], 'the field selector keeps the other node out');
      const listedAt = informer.status().resourceVersion;
      api.bridge.cut();
      await waitFor('disconnected', () => !informer.status().connected, 20_000);
      const patched = await api.admin.patch(`${NODES}/solo-${run}`, { metadata: { labels: { during: 'partition' } } });
      api.bridge.restore();
      await waitFor('the change made during the partition', () => informer.list().get(`solo-${run}`)?.metadata.resourceVersion === patched.metadata.resourceVersion, 20_000);
      const status = informer.status();
      assert.equal(status.relists, 0);
      assert.equal(status.lists, 1);
      assert.ok(status.reconnects >= 1);
      assert.ok(BigInt(status.resourceVersion) > BigInt(listedAt));
      assert.deepEqual(rec.deliveries.map((d) => `${d.cause}: ${d.changes.join(', ')}`), [`list: added solo-${run}`, `watch: modified solo-${run}`]);
    } finally {
      await informer.stop();
    }
  });

  test('a paged list whose continue token is compacted away (410) starts over and is complete', async () => {
    const sel = label('page');
    for (let i = 0; i < 12; i += 1) await createNode(`p${i}-${run}`, sel);
    // The raw API first: a continue token older than etcd's compaction is 410 Expired.
    const first = await client.listPage(NODES, { labelSelector: `tkc-test=page-${run}`, limit: 5 });
    assert.equal(first.items.length, 5);
    await createNode(`p12-${run}`, sel);
    await api.compact(await api.etcdRevision());
    const expired = await client.listPage(NODES, { labelSelector: `tkc-test=page-${run}`, limit: 5, continue: first.continue }).then(() => undefined, (err: unknown) => err);
    assert.ok(expired instanceof KubeApiError, `expected a KubeApiError, got ${String(expired)}`);
    assert.equal(expired.status, 410);
    assert.equal(expired.reason, 'Expired');

    // listAll meets the same between its first and second page, and lists again.
    let compacted = false;
    const result = await listAll(client, NODES, {
      labelSelector: `tkc-test=page-${run}`,
      pageSize: 5,
      onPage: async (page) => {
        if (page !== 1 || compacted) return;
        compacted = true;
        await createNode(`p13-${run}`, sel);
        await api.compact(await api.etcdRevision());
      },
    });
    assert.equal(result.restarts, 1);
    assert.equal(result.pages, 3);
    assert.deepEqual([...result.objects.keys()].sort(), Array.from({ length: 14 }, (_, i) => `p${i}-${run}`).sort());
  });

  test('outage with compaction and a restart: state kept while down, then 410, one relist with exactly the missed changes, and the watch resumes', async () => {
    const sel = label('gone');
    for (const n of ['a', 'b', 'c']) await createNode(`${n}-gone-${run}`, sel);
    const rec = recorder();
    const states: string[] = [];
    const informer = new Informer({
      client, path: NODES, labelSelector: `tkc-test=gone-${run}`, log, backoff: FAST, onChange: rec.onChange,
      onState: (s) => states.push(`${s.connected ? 'up' : 'down'}`),
    });
    try {
      informer.start();
      await informer.waitForSync(20_000);
      const before = [...informer.list().keys()].sort();
      assert.equal(before.length, 3);

      // Partition: the informer cannot see the changes below.
      api.bridge.cut();
      await waitFor('disconnected', () => !informer.status().connected, 20_000);
      await api.admin.patch(`${NODES}/b-gone-${run}`, { metadata: { labels: { changed: 'yes' } } });
      await api.admin.delete(`${NODES}/c-gone-${run}`);
      await createNode(`d-gone-${run}`, sel);
      await api.compact(await api.etcdRevision());
      await api.stop();
      api.bridge.restore();
      // The server is down: connections are refused; nothing is delivered, nothing forgotten.
      await waitFor('a failed attempt while the server is down', () => informer.status().reconnects >= 2, 20_000);
      assert.deepEqual([...informer.list().keys()].sort(), before);
      assert.equal(rec.deliveries.length, 1, 'only the first list was delivered');
      assert.equal(informer.status().synced, true);
      assert.match(informer.status().reason ?? '', /kubernetes API: /);

      await api.start();
      await waitFor('the relist', () => informer.status().relists === 1 && informer.status().connected, 60_000, 100);
      const relist = rec.deliveries.filter((d) => d.cause === 'relist');
      assert.equal(relist.length, 1);
      assert.deepEqual(relist[0]?.changes, [`modified b-gone-${run}`, `deleted c-gone-${run}`, `added d-gone-${run}`]);
      assert.deepEqual(relist[0]?.keys, [`a-gone-${run}`, `b-gone-${run}`, `d-gone-${run}`]);
      assert.ok(rec.deliveries.every((d) => d.keys.length > 0), 'never an empty set');

      // The watch is back: a new node arrives as a watch event.
      await createNode(`e-gone-${run}`, sel);
      await waitFor('e added by the resumed watch', () => informer.list().has(`e-gone-${run}`), 20_000);
      assert.equal(rec.deliveries.at(-1)?.cause, 'watch');
      assert.ok(states.includes('down') && states.at(-1) === 'up', `states: ${states.join(',')}`);
    } finally {
      await informer.stop();
    }
  });
});
