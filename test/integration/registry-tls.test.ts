/**
 * overlay.etcd.tls against a real etcd that serves TLS and requires client certificates
 * (certificates made with openssl): the source follows leases over TLS; a client without a
 * certificate is refused; an unreadable TLS file is a clear config error.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { createLogger } from '../../src/log.js';
import { createEtcdClient, etcdClientOptions } from '../../src/registry/etcd-client.js';
import { EtcdPeerSource } from '../../src/registry/etcd-peer-source.js';
import type { Peer } from '../../src/registry/peer-source.js';
import { must, waitFor } from '../helpers/exec.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { PREFIX, writeFlannelLease, writeNetworkConfig } from '../helpers/registry-flannel.js';

const log = createLogger({ level: 'silent' });
const overlay = { vni: 1, port: 8472, network: '', subnet: '' };

async function issue(dir: string, name: string, subject: string, ext: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), `${ext}\n`);
  await must('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', subject]);
  await must('openssl', ['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, `${name}.pem`), '-days', '1', '-extfile', join(dir, `${name}.ext`)]);
}

describe('etcd over TLS with client certificates', () => {
  let dir: string;
  let etcd: EtcdServer;
  const tls = (): { ca: string; cert: string; key: string } => ({ ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key') });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-etcd-tls-'));
    await must('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-days', '1', '-subj', '/CN=mna-test-ca']);
    await issue(dir, 'server', '/CN=etcd', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
    await issue(dir, 'client', '/CN=mesh-node-agent', 'extendedKeyUsage=clientAuth');
    etcd = await startEtcd({ tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key') } });
  });
  after(async () => {
    await etcd?.cleanup();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('the peer source follows leases over TLS with the configured CA, cert and key', async () => {
    const client = await createEtcdClient({ endpoints: [etcd.endpoint], prefix: PREFIX, tls: tls(), register: false });
    const deliveries: (readonly Peer[])[] = [];
    const source = new EtcdPeerSource({ client, prefix: PREFIX, overlay, log });
    try {
      await writeNetworkConfig(client, { Network: '10.234.0.0/16', Backend: { Type: 'vxlan' } });
      await writeFlannelLease(client, '10.234.1.0/24', '192.168.85.1', 'fe:3f:4a:8c:85:01');
      await source.start((peers) => deliveries.push(peers));
      assert.deepEqual(deliveries.at(-1)?.map((p) => p.subnet), ['10.234.1.0/24']);
      await writeFlannelLease(client, '10.234.2.0/24', '192.168.85.2', 'fe:3f:4a:8c:85:02');
      await waitFor('watched over TLS', () => deliveries.at(-1)?.length === 2);
    } finally {
      await source.stop();
      client.close();
    }
  });

  test('without a client certificate etcd refuses the connection', async () => {
    const options = await etcdClientOptions({ endpoints: [etcd.endpoint], prefix: PREFIX, tls: { ca: join(dir, 'ca.pem'), cert: '', key: '' }, register: false });
    const client = new Etcd3(options);
    try {
      await assert.rejects(client.get(`${PREFIX}/config`).string());
    } finally {
      client.close();
    }
  });

  test('TLS settings that cannot work are config errors naming the key', async () => {
    await assert.rejects(etcdClientOptions({ endpoints: [etcd.endpoint], prefix: PREFIX, tls: { ...tls(), ca: join(dir, 'missing.pem') }, register: false }), /overlay.etcd.tls.ca: cannot read .*missing.pem/);
    await assert.rejects(etcdClientOptions({ endpoints: [etcd.endpoint], prefix: PREFIX, tls: { ...tls(), key: '' }, register: false }), /set both cert and key/);
    await assert.rejects(etcdClientOptions({ endpoints: [etcd.endpoint], prefix: PREFIX, tls: { ca: '', cert: '', key: '' }, register: false }), /overlay.etcd.tls.ca is empty but TLS is in use/);
    await assert.rejects(etcdClientOptions({ endpoints: [], prefix: PREFIX, tls: tls(), register: false }), /overlay.etcd.endpoints is empty/);
  });
});
