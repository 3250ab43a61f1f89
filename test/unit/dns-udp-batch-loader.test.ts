/** The udp-batch loader's fallback reasons: forced off, not found, not loadable; and where it looks. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonCandidates, loadUdpBatchFrom } from '../../src/dns/udp-batch.js';

void describe('dns udp-batch loader', () => {
  void test('looks beside the bundle first, then in the native build dir', () => {
    assert.deepEqual(addonCandidates('/usr/lib/mesh-node-agent')[0], '/usr/lib/mesh-node-agent/udp_batch.node');
    assert.equal(addonCandidates('/repo/src/dns')[1], '/repo/native/udp-batch/build/Release/udp_batch.node');
  });

  void test('MNA_DNS_UDP=dgram, a missing file and a broken file each fall back with a reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-udp-batch-'));
    try {
      const bogus = join(dir, 'udp_batch.node');
      assert.deepEqual(loadUdpBatchFrom([bogus], { MNA_DNS_UDP: 'dgram' }), { addon: undefined, reason: 'MNA_DNS_UDP=dgram' });
      const missing = loadUdpBatchFrom([bogus], {});
      assert.equal(missing.addon, undefined);
      assert.match('reason' in missing ? missing.reason : '', /udp_batch\.node not found \(looked in .*udp_batch\.node\)/);
      await writeFile(bogus, 'not an ELF file');
      const broken = loadUdpBatchFrom([bogus], {});
      assert.equal(broken.addon, undefined);
      assert.match('reason' in broken ? broken.reason : '', /failed to load/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
