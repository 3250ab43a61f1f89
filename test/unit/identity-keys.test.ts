import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import forge from 'node-forge';
import { generateKeyAndCsr, generateRsaKey } from '../../src/identity/keys-and-csr.js';
import { pickSpiffeId, spiffeId } from '../../src/identity/spiffe.js';

void describe('keys and CSR', () => {
  void test('a 2048-bit RSA key and a CSR with the SPIFFE URI as its only SAN and an empty subject', async () => {
    const id = spiffeId({ trustDomain: 'cluster.local', namespace: 'ns1', serviceAccount: 'sa1' });
    assert.equal(id, 'spiffe://cluster.local/ns/ns1/sa/sa1');
    const out = await generateKeyAndCsr(2048, id);
    assert.match(out.keyPem, /^-----BEGIN RSA PRIVATE KEY-----/);
    assert.equal(createPrivateKey(out.keyPem).asymmetricKeyDetails?.modulusLength, 2048);
    const csr = forge.pki.certificationRequestFromPem(out.csrPem);
    assert.ok(csr.verify(), 'the CSR signature verifies');
    assert.equal(csr.subject.attributes.length, 0);
    const ext = csr.getAttribute({ name: 'extensionRequest' }) as { extensions: { name: string; altNames: { type: number; value: string }[] }[] };
    const san = ext.extensions.find((e) => e.name === 'subjectAltName');
    assert.deepEqual(san?.altNames.map((a) => [a.type, a.value]), [[6, id]]);
  });

  void test('every call gives a fresh key', async () => {
    const a = await generateKeyAndCsr(2048, 'spiffe://x/ns/a/sa/b');
    const b = await generateKeyAndCsr(2048, 'spiffe://x/ns/a/sa/b');
    assert.notEqual(a.publicKeyPem, b.publicKeyPem);
  });

  void test('refuses keys under 2048 bits', async () => {
    await assert.rejects(generateRsaKey(1024), /at least 2048/);
  });

  void test('pickSpiffeId takes the first spiffe:// URI', () => {
    assert.equal(pickSpiffeId(['https://x', 'spiffe://a/ns/b/sa/c', 'spiffe://d']), 'spiffe://a/ns/b/sa/c');
    assert.equal(pickSpiffeId([]), undefined);
  });
});
