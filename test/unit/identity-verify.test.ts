import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { AgentError, ErrorCode } from '../../src/errors.js';
import { inspectStored } from '../../src/identity/inspect.js';
import { buildCsr, generateKeyAndCsr, generateRsaKey } from '../../src/identity/keys-and-csr.js';
import { verifyAnswer, type VerifyOptions } from '../../src/identity/verify.js';
import { createIntermediateCa, createRootCa, issueWorkloadCert, type Issuer } from '../helpers/pki.js';

const ID = 'spiffe://cluster.local/ns/default/sa/web';
const H = 3_600_000;

void describe('verifyAnswer and inspectStored', () => {
  let root: Issuer;
  let intermediate: Issuer;
  let otherRoot: Issuer;
  let ours: { keyPem: string; publicKeyPem: string; publicKey: forge.pki.PublicKey };
  let leaf: string;
  let base: VerifyOptions;

  before(async () => {
    root = await createRootCa('Root');
    intermediate = await createIntermediateCa(root, 'Intermediate');
    otherRoot = await createRootCa('Other Root');
    const fresh = await generateKeyAndCsr(2048, ID);
    const publicKey = forge.pki.publicKeyFromPem(fresh.publicKeyPem);
    ours = { keyPem: fresh.keyPem, publicKeyPem: fresh.publicKeyPem, publicKey };
    const now = Date.now();
    leaf = issueWorkloadCert(intermediate, publicKey, ID, { notBefore: new Date(now - 120_000), notAfter: new Date(now + H) });
    base = { trustedRoots: [new X509Certificate(root.certPem)], expectedId: ID, publicKeyPem: ours.publicKeyPem, now, acceptAnswerRoot: false };
  });

  function rejects(fn: () => unknown, pattern: RegExp): void {
    assert.throws(fn, (err: unknown) => AgentError.is(err) && err.code === ErrorCode.CaAnswerRejected && pattern.test(err.message));
  }

  void test('accepts leaf → intermediate → trusted root, with or without the root in the answer', () => {
    const withRoot = verifyAnswer({ chain: [leaf, intermediate.certPem], root: root.certPem }, base);
    assert.equal(withRoot.rootIsNew, false);
    assert.equal(withRoot.chainPem.length, 2);
    const without = verifyAnswer({ chain: [leaf, intermediate.certPem] }, base);
    assert.equal(new X509Certificate(without.rootPem).fingerprint256, new X509Certificate(root.certPem).fingerprint256);
  });

  void test('rejects garbage, a missing intermediate, a foreign key, identity or root', () => {
    rejects(() => verifyAnswer({ chain: ['not a certificate'] }, base), /no PEM certificate/);
    rejects(() => verifyAnswer({ chain: ['-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n'] }, base), /does not parse/);
    rejects(() => verifyAnswer({ chain: [leaf] }, base), /does not verify to a trusted root/);
    rejects(() => verifyAnswer({ chain: [leaf, intermediate.certPem] }, { ...base, expectedId: 'spiffe://cluster.local/ns/default/sa/other' }), /is for spiffe:\/\/cluster.local\/ns\/default\/sa\/web, expected/);
    rejects(() => verifyAnswer({ chain: [leaf, intermediate.certPem] }, { ...base, trustedRoots: [new X509Certificate(otherRoot.certPem)] }), /trusted root/);
    rejects(() => verifyAnswer({ chain: [intermediate.certPem, root.certPem] }, base), /CA certificate, not a workload/);
  });

  void test('rejects a certificate for someone else\'s key', async () => {
    const stranger = await generateRsaKey(2048);
    const theirs = issueWorkloadCert(intermediate, stranger.publicKey, ID, { notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + H) });
    rejects(() => verifyAnswer({ chain: [theirs, intermediate.certPem] }, base), /public key of our CSR/);
    // The CSR we would send for it carries the SPIFFE SAN.
    const csr = forge.pki.certificationRequestFromPem(buildCsr(stranger, ID));
    assert.ok(csr.verify());
  });

  void test('rejects a certificate not valid now', () => {
    const now = Date.now();
    const expired = issueWorkloadCert(intermediate, ours.publicKey, ID, { notBefore: new Date(now - 2 * H), notAfter: new Date(now - H) });
    rejects(() => verifyAnswer({ chain: [expired, intermediate.certPem] }, base), /not valid now/);
  });

  void test('a new self-signed root in the answer is accepted only from istiod (root rotation)', async () => {
    const newRoot = await createRootCa('New Root');
    const newIntermediate = await createIntermediateCa(newRoot, 'New Intermediate');
    const now = Date.now();
    const rotated = issueWorkloadCert(newIntermediate, ours.publicKey, ID, { notBefore: new Date(now - 1000), notAfter: new Date(now + H) });
    const answer = { chain: [rotated, newIntermediate.certPem], root: newRoot.certPem };
    const options = { ...base, now };
    rejects(() => verifyAnswer(answer, options), /not trusted/);
    const accepted = verifyAnswer(answer, { ...options, acceptAnswerRoot: true });
    assert.equal(accepted.rootIsNew, true);
    // A root that does not sign the chain is never accepted.
    rejects(() => verifyAnswer({ chain: [leaf, intermediate.certPem], root: newRoot.certPem }, { ...options, acceptAnswerRoot: true }), /does not sign the chain/);
  });

  void test('inspectStored classifies the installed files', async () => {
    const now = Date.now();
    const chainPem = leaf + intermediate.certPem;
    assert.equal(inspectStored({}, ID, now).assessment.state, 'missing');
    assert.equal(inspectStored({ keyPem: ours.keyPem, chainPem: 'junk' }, ID, now).assessment.state, 'unreadable');
    const valid = inspectStored({ keyPem: ours.keyPem, chainPem, meta: { issuedAt: now - 5000, spiffeId: ID, serial: new X509Certificate(leaf).serialNumber } }, ID, now);
    assert.equal(valid.assessment.state, 'valid');
    assert.equal(valid.assessment.state === 'valid' && valid.assessment.issuedAt, now - 5000, 'issue time from meta.json');
    assert.equal(inspectStored({ keyPem: ours.keyPem, chainPem }, 'spiffe://cluster.local/ns/x/sa/y', now).assessment.state, 'other-identity');
    assert.equal(inspectStored({ keyPem: ours.keyPem, chainPem }, ID, now + 2 * H).assessment.state, 'expired');
    // A kill between writing a new root-cert.pem and switching the pair: rotate at once.
    assert.equal(inspectStored({ keyPem: ours.keyPem, chainPem, rootPem: root.certPem }, ID, now).assessment.state, 'valid');
    assert.equal(inspectStored({ keyPem: ours.keyPem, chainPem, rootPem: otherRoot.certPem }, ID, now).assessment.state, 'untrusted');
    const stranger = await generateKeyAndCsr(2048, ID);
    const torn = inspectStored({ keyPem: stranger.keyPem, chainPem }, ID, now);
    assert.equal(torn.assessment.state, 'unreadable');
    assert.match(torn.assessment.state === 'unreadable' ? torn.assessment.reason : '', /does not match/);
  });
});
