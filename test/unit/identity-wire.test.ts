/** The CA messages on the wire: Istio's field numbers and types, checked byte by byte. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadCaServices, loadCaServicesFrom } from '../../src/identity/ca-services.js';
import { AgentError, ErrorCode } from '../../src/errors.js';
import { PACKAGED_PROTO_DIR, protoDirCandidates, resolveProtoDir } from '../../src/identity/proto-dir.js';

void describe('CA protocol wire format', () => {
  const services = loadCaServices();
  const defs = { istiod: services.istiod.service, citadel: services.citadel.service };

  void test('service paths are Istio\'s', () => {
    assert.equal(defs.istiod.CreateCertificate?.path, '/istio.v1.auth.IstioCertificateService/CreateCertificate');
    assert.equal(defs.citadel.HandleCSR?.path, '/istio.v1.auth.IstioCAService/HandleCSR');
  });

  void test('IstioCertificateRequest: csr=1 (string), validity_duration=3 (varint), metadata=4 (Struct); never field 2', () => {
    const method = defs.istiod.CreateCertificate;
    assert.ok(method);
    const bytes = method.requestSerialize({ csr: 'C', validity_duration: 86400, metadata: { fields: { CertSigner: { stringValue: 'S' } } } });
    // 0a 01 43 | 18 80 a3 05 | 22 ...: field 1 LEN "C", field 3 VARINT 86400, field 4 LEN.
    assert.equal(bytes.subarray(0, 8).toString('hex'), '0a01431880a30522');
    const back = method.requestDeserialize(bytes);
    assert.equal(back.validity_duration, 86400);
    assert.equal(back.metadata?.fields.CertSigner?.stringValue, 'S');
  });

  void test('IstioCertificateResponse: repeated string cert_chain=1', () => {
    const method = defs.istiod.CreateCertificate;
    assert.ok(method);
    const bytes = Buffer.from('0a01610a0162', 'hex');
    assert.deepEqual(method.responseDeserialize(bytes).cert_chain, ['a', 'b']);
  });

  void test('CsrRequest: csr_pem=1 bytes, node_agent_credential=2 bytes, credential_type=3 string, requested_ttl_minutes=4 int32', () => {
    const method = defs.citadel.HandleCSR;
    assert.ok(method);
    const bytes = method.requestSerialize({ csr_pem: Buffer.from('A'), node_agent_credential: Buffer.from('B'), credential_type: 'onprem', requested_ttl_minutes: 60 });
    assert.equal(bytes.toString('hex'), `0a0141120142${'1a06' + Buffer.from('onprem').toString('hex')}203c`);
  });

  void test('CsrResponse: is_approved=1, status=2 (google.rpc.Status), signed_cert=3, cert_chain=4', () => {
    const method = defs.citadel.HandleCSR;
    assert.ok(method);
    // 08 01 | 12 05 (08 03 12 01 'x') | 1a 01 'L' | 22 01 'I'
    const bytes = Buffer.from(`0801120508031201${Buffer.from('x').toString('hex')}1a01${Buffer.from('L').toString('hex')}2201${Buffer.from('I').toString('hex')}`, 'hex');
    const res = method.responseDeserialize(bytes);
    assert.equal(res.is_approved, true);
    assert.equal(res.status?.code, 3);
    assert.equal(res.status?.message, 'x');
    assert.equal(Buffer.from(res.signed_cert).toString(), 'L');
    assert.equal(Buffer.from(res.cert_chain).toString(), 'I');
  });
});

void describe('proto directory resolution', () => {
  void test('from source: repo/proto; from a bundle: next to it; then the packaged path', () => {
    const fromSource = protoDirCandidates({}, pathToFileURL('/repo/src/identity/proto-dir.ts').href);
    assert.equal(fromSource[0], '/repo/proto');
    const fromBundle = protoDirCandidates({}, pathToFileURL('/usr/lib/mesh-node-agent/main.mjs').href);
    assert.ok(fromBundle.includes('/usr/lib/mesh-node-agent/proto'));
    assert.equal(fromBundle.at(-1), PACKAGED_PROTO_DIR);
    assert.ok(resolveProtoDir({}).endsWith('/proto'));
  });

  void test('MNA_PROTO_DIR wins, and a wrong value is an error naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-proto-'));
    try {
      await mkdir(join(dir, 'p'));
      await writeFile(join(dir, 'p', 'istio-ca.proto'), 'syntax = "proto3";\n');
      assert.equal(resolveProtoDir({ MNA_PROTO_DIR: join(dir, 'p') }), join(dir, 'p'));
      assert.throws(() => resolveProtoDir({ MNA_PROTO_DIR: join(dir, 'nope') }), /MNA_PROTO_DIR=.*nope does not contain istio-ca.proto/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

void describe('the loaded services against the generated types', () => {
  void test('a proto/ whose service differs from the one the types were generated from is refused, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-proto-'));
    try {
      await cp(join(resolveProtoDir({}), '.'), dir, { recursive: true });
      assert.ok(loadCaServicesFrom(dir).istiod.service.CreateCertificate, 'an unchanged copy loads');
      const file = join(dir, 'istio-ca.proto');
      const text = await readFile(file, 'utf8');
      assert.ok(text.includes('rpc CreateCertificate('), 'the .proto declares the method this test renames');
      await writeFile(file, text.replace('rpc CreateCertificate(', 'rpc CreateCert('));
      assert.throws(
        () => loadCaServicesFrom(dir),
        (err: unknown) => AgentError.is(err) && err.code === ErrorCode.InstallIncomplete && err.message.includes('istio.v1.auth.IstioCertificateService') && err.message.includes(dir),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
