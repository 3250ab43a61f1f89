/**
 * Connection and identity against a real kube-apiserver: every supported kubeconfig form connects
 * as the identity it names; a least-privileged ServiceAccount is told exactly which permissions
 * it lacks; a rotated token file is picked up at the first 401; wrong CAs, tokens and files fail
 * with errors naming what to fix; ServiceEntries (CRD) are read in v1beta1 and v1.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { AgentError, ErrorCode } from '../../src/errors.js';
import { deniedAccess, describeAccess, type AccessCheck } from '../../src/kube/access-review.js';
import { KubeApiError } from '../../src/kube/api-error.js';
import { resourcePath, type KubeClient } from '../../src/kube/client.js';
import { kubernetesDefaults, kubernetesSchema } from '../../src/kube/config-schema.js';
import { createKubeClient, type ConnectOptions } from '../../src/kube/connect.js';
import { Informer } from '../../src/kube/informer.js';
import { waitFor } from '../helpers/exec.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { applyServiceEntryCrd, NODES, serviceAccountToken, writeKubeconfig } from '../helpers/kube-fixtures.js';
import { createRootCa, createServingCert } from '../helpers/pki.js';

const log = createLogger({ level: 'silent' });
const CREATE_NODES: AccessCheck = { verb: 'create', group: '', resource: 'nodes' };

function settings(values: Record<string, unknown>): ReturnType<typeof kubernetesSchema.parse> {
  return kubernetesSchema.parse({ ...kubernetesDefaults(), ...values });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof Error, 'expected a rejection');
  return err;
}

describe('kube client: connection, identity and permissions on a real API server', () => {
  let api: KubeApiServer;
  let dir: string;
  let readerToken: string;
  const run = randomBytes(3).toString('hex');
  const reader = `tkc-reader-${run}`;
  const clients: KubeClient[] = [];
  const connect = async (values: Record<string, unknown>, options: ConnectOptions = {}): Promise<KubeClient> => {
    const client = await createKubeClient(settings(values), options);
    clients.push(client);
    return client;
  };

  before(async () => {
    api = await startKubeApiServer('tkca');
    dir = await mkdtemp(join(tmpdir(), 'mna-kube-auth-'));
    readerToken = await serviceAccountToken(api.admin, reader, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await api?.cleanup();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('every kubeconfig form connects as the identity it names', async () => {
    const pki = join(api.dir, 'pki');
    const server = api.env.APISERVER_URL;
    // Relative paths resolve against the kubeconfig's directory.
    await mkdir(join(dir, 'rel'), { recursive: true });
    for (const f of ['ca.crt', 'admin.crt', 'admin.key']) await copyFile(join(pki, f), join(dir, 'rel', f));
    await writeFile(join(dir, 'rel', 'token'), `${readerToken}\n`);
    const b64 = async (f: string): Promise<string> => (await readFile(join(pki, f))).toString('base64');
    const admins = {
      'start.sh kubeconfig (client certificate files)': await writeKubeconfig(dir, 'k-files', { server, cluster: { 'certificate-authority': join(pki, 'ca.crt') }, user: { 'client-certificate': join(pki, 'admin.crt'), 'client-key': join(pki, 'admin.key') } }),
      'relative paths': await writeKubeconfig(join(dir, 'rel'), 'k-rel', { server, cluster: { 'certificate-authority': 'ca.crt' }, user: { 'client-certificate': 'admin.crt', 'client-key': './admin.key' } }),
      '-data': await writeKubeconfig(dir, 'k-data', { server, cluster: { 'certificate-authority-data': await b64('ca.crt') }, user: { 'client-certificate-data': await b64('admin.crt'), 'client-key-data': await b64('admin.key') } }),
      'tls-server-name': await writeKubeconfig(dir, 'k-sni', { server, cluster: { 'certificate-authority': join(pki, 'ca.crt'), 'tls-server-name': 'kubernetes.default.svc' }, user: { token: api.env.ADMIN_TOKEN } }),
    };
    for (const [form, kubeconfig] of Object.entries(admins)) {
      const client = await connect({ kubeconfig });
      assert.equal((await client.listPage(NODES, { limit: 1 })).items.length >= 0, true);
      assert.deepEqual(await deniedAccess(client, [CREATE_NODES]), [], `${form}: the admin may create nodes`);
    }
    const readers = {
      token: { kubeconfig: await writeKubeconfig(dir, 'k-token', { server, cluster: { 'certificate-authority': join(pki, 'ca.crt') }, user: { token: readerToken } }) },
      tokenFile: { kubeconfig: await writeKubeconfig(join(dir, 'rel'), 'k-tokenfile', { server, cluster: { 'certificate-authority-data': await b64('ca.crt') }, user: { tokenFile: 'token' } }) },
      'server + caFile + tokenFile': { server, caFile: join(pki, 'ca.crt'), tokenFile: join(dir, 'rel', 'token') },
    };
    for (const [form, values] of Object.entries(readers)) {
      const client = await connect(values);
      await client.listPage(NODES, { limit: 1 });
      assert.equal((await deniedAccess(client, [CREATE_NODES])).length, 1, `${form}: the reader may not create nodes`);
    }
  });

  test('a least-privileged ServiceAccount is told exactly which permissions it lacks', async () => {
    await writeFile(join(dir, 'reader-token'), readerToken);
    const client = await connect({ server: api.env.APISERVER_URL, caFile: api.env.KUBE_CA_FILE, tokenFile: join(dir, 'reader-token') });
    const needs: AccessCheck[] = [
      ...['get', 'list', 'watch', 'create', 'patch'].map((verb) => ({ verb, group: '', resource: 'nodes' })),
      { verb: 'patch', group: '', resource: 'nodes', subresource: 'status' },
      { verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-flannel', name: 'kube-flannel-cfg' },
      { verb: 'list', group: 'networking.istio.io', resource: 'serviceentries' },
      { verb: 'watch', group: 'networking.istio.io', resource: 'serviceentries' },
    ];
    const denied = await deniedAccess(client, needs);
    assert.deepEqual(denied.map(describeAccess), [
      'create nodes (cluster-wide)',
      'patch nodes (cluster-wide)',
      'patch nodes/status (cluster-wide)',
      'get configmaps "kube-flannel-cfg" in namespace kube-flannel',
      'list serviceentries.networking.istio.io (cluster-wide)',
      'watch serviceentries.networking.istio.io (cluster-wide)',
    ]);
    // The same denial from a real request carries the server's Status.
    const err = await rejection(client.create(NODES, { metadata: { name: `x-${run}` } }));
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.status, 403);
    assert.equal(err.reason, 'Forbidden');
    assert.equal(err.code, ErrorCode.KubeApiFailed);
    assert.match(err.message, new RegExp(`POST /api/v1/nodes: 403 Forbidden: .*system:serviceaccount:default:${reader}.* cannot create resource "nodes"`));
  });

  test('a rotated token file is read again at the first 401, without waiting for its re-read interval', async () => {
    const tokenFile = join(dir, 'rotating-token');
    await writeFile(tokenFile, 'not-a-token-this-server-knows');
    const client = await connect({ server: api.env.APISERVER_URL, caFile: api.env.KUBE_CA_FILE, tokenFile }, { tokenMaxAgeMs: 3_600_000 });
    const err = await rejection(client.listPage(NODES, { limit: 1 }));
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.status, 401);
    assert.doesNotMatch(err.message, /not-a-token/, 'the token never appears in an error');
    await writeFile(tokenFile, `${readerToken}\n`);
    await client.listPage(NODES, { limit: 1 });
  });

  test('a wrong CA, a foreign client certificate and unreadable or mismatched files fail naming what to fix', async () => {
    const pki = join(api.dir, 'pki');
    const other = await createRootCa('tkc-other-ca');
    await writeFile(join(dir, 'other-ca.crt'), other.certPem);
    const wrongCa = await connect({ server: api.env.APISERVER_URL, caFile: join(dir, 'other-ca.crt') });
    const tls = await rejection(wrongCa.listPage(NODES));
    assert.ok(tls instanceof KubeApiError);
    assert.equal(tls.status, 0);
    assert.match(tls.message, new RegExp(`no answer: from ${api.env.APISERVER_URL.replace(/\./g, '\\.')}: .*(self[- ]signed|unable to verify|certificate)`, 'i'));

    // A client certificate from a CA the server does not trust: the TLS handshake passes, the user is refused.
    const foreign = await createServingCert(other, ['tkc-client']);
    await writeFile(join(dir, 'foreign.crt'), foreign.certPem);
    await writeFile(join(dir, 'foreign.key'), foreign.keyPem);
    const foreignConfig = await writeKubeconfig(dir, 'k-foreign', { server: api.env.APISERVER_URL, cluster: { 'certificate-authority': join(pki, 'ca.crt') }, user: { 'client-certificate': join(dir, 'foreign.crt'), 'client-key': join(dir, 'foreign.key') } });
    const refused = await rejection((await connect({ kubeconfig: foreignConfig })).listPage(NODES));
    assert.ok(refused instanceof KubeApiError);
    assert.equal(refused.status, 401);
    assert.match(refused.message, /^GET \/api\/v1\/nodes: 401 Unauthorized/);

    const missingKey = await writeKubeconfig(dir, 'k-missing', { server: api.env.APISERVER_URL, user: { 'client-certificate': join(pki, 'admin.crt'), 'client-key': join(dir, 'nope.key') } });
    const missing = await rejection(connect({ kubeconfig: missingKey }));
    assert.ok(AgentError.is(missing) && missing.code === ErrorCode.KubeConfigInvalid);
    assert.match(missing.message, new RegExp(`^${missingKey}:\\d+:\\d+: users\\["u"\\]\\.user\\.client-key: cannot read ${dir}/nope\\.key: .*ENOENT`));

    const mismatched = await writeKubeconfig(dir, 'k-pair', { server: api.env.APISERVER_URL, user: { 'client-certificate': join(pki, 'admin.crt'), 'client-key': join(pki, 'apiserver.key') } });
    assert.match((await rejection(connect({ kubeconfig: mismatched }))).message, /users\["u"\]\.user\.client-key: .*apiserver\.key is not the key of the client certificate/);

    await writeFile(join(dir, 'not-pem.crt'), 'hello');
    const notPem = await rejection(connect({ server: api.env.APISERVER_URL, caFile: join(dir, 'not-pem.crt') }));
    assert.equal(notPem.message, `kubernetes.caFile: ${dir}/not-pem.crt holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);

    const missingFile = await rejection(connect({ kubeconfig: join(dir, 'absent-kubeconfig') }));
    assert.match(missingFile.message, new RegExp(`^kubernetes\\.kubeconfig: cannot read ${dir}/absent-kubeconfig: .*ENOENT`));
  });

  test('ServiceEntries (a CRD) are listed and watched in v1beta1 and v1, keyed namespace/name', async () => {
    await applyServiceEntryCrd(api.admin, api.toolDir);
    const client = await connect({ kubeconfig: api.env.KUBECONFIG });
    const path = (version: string, namespace?: string): string => resourcePath({ group: 'networking.istio.io', version, resource: 'serviceentries', ...(namespace === undefined ? {} : { namespace }) });
    const informers = ['v1beta1', 'v1'].map((version) => new Informer({ client, path: path(version), labelSelector: `tkc-run=${run}`, log }));
    try {
      for (const inf of informers) inf.start();
      for (const inf of informers) await inf.waitForSync(20_000);
      const key = `kube-public/httpbin-${run}`;
      await api.admin.create(path('v1beta1', 'kube-public'), {
        apiVersion: 'networking.istio.io/v1beta1', kind: 'ServiceEntry',
        metadata: { name: `httpbin-${run}`, labels: { 'tkc-run': run } },
        spec: { hosts: ['httpbin.bar.global'], addresses: ['240.0.0.2'], resolution: 'DNS', endpoints: [{ address: 'httpbin.example.com' }] },
      });
      for (const inf of informers) await waitFor(`${key} listed`, () => inf.list().has(key));
      assert.deepEqual(informers[1]?.list().get(key)?.spec, { hosts: ['httpbin.bar.global'], addresses: ['240.0.0.2'], resolution: 'DNS', endpoints: [{ address: 'httpbin.example.com' }] });

      // A CRD takes merge patches; a strategic merge patch is refused with the server's reason.
      const seUrl = `${path('v1', 'kube-public')}/httpbin-${run}`;
      const refused = await rejection(client.patch(seUrl, { spec: { addresses: ['240.0.0.3'] } }, 'strategic'));
      assert.ok(refused instanceof KubeApiError && refused.status === 415, refused.message);
      await client.patch(seUrl, { spec: { addresses: ['240.0.0.3'] } }, 'merge');
      for (const inf of informers) await waitFor('the new address', () => (inf.list().get(key)?.spec as { addresses?: string[] } | undefined)?.addresses?.[0] === '240.0.0.3');
      await client.delete(seUrl);
      for (const inf of informers) await waitFor(`${key} gone`, () => !inf.list().has(key));
    } finally {
      for (const inf of informers) await inf.stop();
    }
  });
});
