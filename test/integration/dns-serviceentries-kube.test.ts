/**
 * ServiceEntries from a real kube-apiserver (the Istio CRD applied) as a DNS source beside the
 * manifest files: the real agent in a namespace answers with dig. A ServiceEntry created, changed
 * and deleted through the API is answered, changed and NXDOMAIN within 1 s (each waited on with a
 * 1 s deadline and measured); the answers and VIPs are those the same entries get from files; a
 * namespace list is honoured (and all namespaces after a reload); a bad entry is refused alone; an
 * API outage keeps the entries; a cluster serving only v1beta1 is followed through v1beta1.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { buildMeshTable } from '../../src/dns/mesh-table.js';
import { KubeServiceEntrySource, servedVersion } from '../../src/dns/service-entries-kube.js';
import { resourcePath, type KubeClient } from '../../src/kube/client.js';
import { createLogger } from '../../src/log.js';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { startNsEntry, type NsEntry } from '../helpers/kube-bridge.js';
import { applyServiceEntryCrd, serviceAccountToken } from '../helpers/kube-fixtures.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { dig, startDnsmasq } from './dns-fixture.js';

const AGENT = '127.0.0.1';
const UPSTREAM = '127.0.0.3';
const BOUND_MS = 1000;
const log = createLogger({ level: 'silent' });

const FILE_ENTRY = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: from-file }
spec:
  hosts: [ratings.baz.global]
  resolution: DNS
`;

function serviceEntry(name: string, hosts: string[], addresses?: string[]): Record<string, unknown> {
  return { apiVersion: 'networking.istio.io/v1beta1', kind: 'ServiceEntry', metadata: { name }, spec: { hosts, location: 'MESH_INTERNAL', resolution: 'DNS', ...(addresses === undefined ? {} : { addresses }) } };
}

const sePath = (namespace: string, version = 'v1beta1', name?: string): string => resourcePath({ group: 'networking.istio.io', version, resource: 'serviceentries', namespace, ...(name === undefined ? {} : { name }) });

void describe('dns: ServiceEntries from the Kubernetes API beside the files', () => {
  let api: KubeApiServer;
  let ns: Netns;
  let entry: NsEntry;
  let agent: AgentHandle;
  let dir: string;
  let config: Record<string, unknown>;

  const answers = async (name: string): Promise<string[]> => (await dig(ns, AGENT, name)).answers;
  /** Waits for `expect` with a deadline of BOUND_MS and returns how long it took. */
  const within = async (what: string, expect: () => Promise<boolean>): Promise<number> => {
    const started = performance.now();
    await waitFor(what, expect, BOUND_MS, 10);
    return performance.now() - started;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-kse-'));
    api = await startKubeApiServer('tkcs');
    await applyServiceEntryCrd(api.admin, api.toolDir);
    for (const namespace of ['istio-system', 'mesh', 'default']) {
      await api.admin.create(resourcePath({ version: 'v1', resource: 'namespaces' }), { metadata: { name: namespace } }).catch(() => undefined);
    }
    const token = await serviceAccountToken(api.admin, 'mesh-dns', [{ apiGroups: ['networking.istio.io'], resources: ['serviceentries'], verbs: ['list', 'watch'] }]);
    await writeFile(join(dir, 'token'), token);
    await writeFile(join(dir, 'file.yaml'), FILE_ENTRY);
    ns = await createNetns('kse');
    await ns.ip('addr', 'add', `${UPSTREAM}/8`, 'dev', 'lo');
    await startDnsmasq(ns, UPSTREAM, ['--address=/#/']);
    await writeFile(join(dir, 'resolv.conf'), `nameserver ${UPSTREAM}\n`);
    entry = await startNsEntry(ns, join(api.dir, 'bridge.sock'), 6443);
    config = {
      stateDir: dir,
      kubernetes: { server: entry.url, caFile: api.env.KUBE_CA_FILE, tokenFile: join(dir, 'token') },
      dns: { enabled: true, listen: [`${AGENT}:53`], upstreams: [UPSTREAM], serviceEntries: { paths: [join(dir, 'file.yaml')], kubernetes: true, namespaces: ['istio-system', 'mesh'] } },
    };
    agent = await startAgent({ ns, config });
    await agent.waitReady();
  });

  after(async () => {
    await agent?.cleanup();
    entry?.close();
    await api?.cleanup();
    await ns?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  void test('created, changed and deleted through the API: answered, changed and NXDOMAIN within 1 s', async () => {
    const path = sePath('istio-system');
    await api.admin.create(path, serviceEntry('httpbin-bar', ['httpbin.bar.global'], ['240.0.0.2']));
    const created = await within('answered', async () => (await answers('httpbin.bar.global')).join() === 'httpbin.bar.global. A 240.0.0.2');
    await api.admin.patch(`${path}/httpbin-bar`, { spec: { addresses: ['240.0.0.3'] } }, 'merge');
    const changed = await within('changed', async () => (await answers('httpbin.bar.global')).join() === 'httpbin.bar.global. A 240.0.0.3');
    await api.admin.delete(`${path}/httpbin-bar`);
    const deleted = await within('NXDOMAIN', async () => (await dig(ns, AGENT, 'httpbin.bar.global')).status === 'NXDOMAIN');
    console.log(`# ServiceEntry via the API → DNS: created ${created.toFixed(0)} ms, changed ${changed.toFixed(0)} ms, deleted ${deleted.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
  });

  void test('the same VIPs and answers as the same entries from files; both sources in one table', async () => {
    const path = sePath('mesh');
    await api.admin.create(path, serviceEntry('auto', ['reviews.foo.global', 'details.foo.global']));
    await api.admin.create(path, serviceEntry('wild', ['*.wild.example'], ['240.0.0.9', '10.1.2.3/32', '10.9.0.0/16']));
    // What the file source makes of the same entries, all in files.
    const asFiles = `${FILE_ENTRY}---\n${stringify(serviceEntry('auto', ['reviews.foo.global', 'details.foo.global']))}---\n${stringify(serviceEntry('wild', ['*.wild.example'], ['240.0.0.9', '10.1.2.3/32', '10.9.0.0/16']))}`;
    const reference = buildMeshTable([{ file: 'all.yaml', text: asFiles }], '240.240.0.0/16', 30).table;
    for (const name of ['reviews.foo.global', 'details.foo.global', 'ratings.baz.global', 'a.wild.example']) {
      const expected = (reference.lookup(name)?.addresses ?? []).filter((a) => !a.includes(':')).map((a) => `${name}. A ${a}`).sort();
      assert.ok(expected.length > 0, name);
      await waitFor(`${name} answered as from files`, async () => (await answers(name)).join() === expected.join(), 5000, 20);
    }
  });

  void test('a namespace list is honoured; after a reload to all namespaces, every namespace is read', async () => {
    await api.admin.create(sePath('default'), serviceEntry('elsewhere', ['elsewhere.default.global'], ['240.0.0.20']));
    await api.admin.create(sePath('mesh'), serviceEntry('inside', ['inside.mesh.global'], ['240.0.0.21']));
    await waitFor('the listed namespace answered', async () => (await answers('inside.mesh.global')).length === 1, 5000, 20);
    assert.equal((await dig(ns, AGENT, 'elsewhere.default.global')).status, 'NXDOMAIN');
    await agent.writeConfig({ ...config, dns: { ...(config.dns as Record<string, unknown>), serviceEntries: { paths: [join(dir, 'file.yaml')], kubernetes: true, namespaces: [] } } });
    agent.proc.kill('SIGHUP');
    await waitFor('all namespaces after the reload', async () => (await answers('elsewhere.default.global')).join() === 'elsewhere.default.global. A 240.0.0.20', 10_000, 50);
    assert.equal((await answers('inside.mesh.global')).length, 1);
  });

  void test('a bad entry is refused alone and reported; the API down keeps the entries', async () => {
    await api.admin.create(sePath('mesh'), serviceEntry('bad', ['ok.mesh.global', 'not a host!'], ['240.0.0.30']));
    await api.admin.create(sePath('mesh'), serviceEntry('fine', ['fine.mesh.global'], ['240.0.0.31']));
    await waitFor('the good one answered', async () => (await answers('fine.mesh.global')).length === 1, 5000, 20);
    assert.equal((await dig(ns, AGENT, 'ok.mesh.global')).status, 'NXDOMAIN', 'nothing of a refused entry is used');
    const status = JSON.parse((await agent.get('/status')).body) as { controllers: { dns: { mesh: { kubernetes: { refused: Record<string, string> } } } } };
    assert.match(status.controllers.dns.mesh.kubernetes.refused['mesh/bad'] ?? '', /host "not a host!" is not a DNS name/);
    entry.cut();
    try {
      await waitFor('the agent notices the outage', async () => /ServiceEntries from the API/.test((await agent.get('/readyz?verbose')).body), 30_000, 100);
      assert.equal((await answers('fine.mesh.global')).join(), 'fine.mesh.global. A 240.0.0.31');
    } finally {
      await entry.restore();
    }
  });

  void test('a cluster that serves only v1beta1 is followed through v1beta1', async () => {
    const crd = `${resourcePath({ group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' })}/serviceentries.networking.istio.io`;
    const versions = (served: boolean): unknown[] => ['v1beta1', 'v1alpha3', 'v1'].map((name) => ({
      name,
      served: name === 'v1' ? served : true,
      storage: name === 'v1beta1',
      subresources: { status: {} },
      schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
    }));
    const client: KubeClient = api.admin;
    assert.equal(await servedVersion(client), 'v1');
    await client.patch(crd, { spec: { versions: versions(false) } }, 'merge');
    const source = new KubeServiceEntrySource({ client, namespaces: ['mesh'], log, onChange: () => undefined, backoff: { initialMs: 100, maxMs: 500 } });
    try {
      await waitFor('v1 no longer served', async () => (await servedVersion(client)) === 'v1beta1', 20_000, 200);
      await source.start(10_000);
      assert.equal(source.status().version, 'v1beta1');
      assert.ok(source.current().some((e) => e.hosts.includes('fine.mesh.global')));
    } finally {
      source.stop();
      await client.patch(crd, { spec: { versions: versions(true) } }, 'merge');
    }
  });
});
