/**
 * The udp-batch loader's fallback reasons: forced off, not found, not loadable, another memory layout
 * than this code's (checked on the real addon's exports and on an addon really built with one layout
 * constant changed); and where it looks.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { addonCandidates, checkAddon, loadUdpBatch, loadUdpBatchFrom } from '../../src/dns/udp-batch.js';
import { UDP_BATCH_LAYOUT, layoutMismatch } from '../../src/dns/udp-batch-layout.js';

const reasonOf = (load: ReturnType<typeof loadUdpBatchFrom>): string => ('reason' in load ? load.reason : '');

/** Node's headers, as scripts/build-native.sh finds them (the sanitized run's node is a copy elsewhere). */
function nodeHeaders(): string {
  const dirs = [process.env['npm_config_nodedir'], resolve(process.execPath, '../..'), '/usr/local', '/usr'];
  const dir = dirs.find((d) => d !== undefined && existsSync(join(d, 'include/node/node_api.h')));
  assert.ok(dir !== undefined, `Node's headers (include/node/node_api.h) in one of ${dirs.join(', ')}`);
  return join(dir, 'include/node');
}

void describe('dns udp-batch loader', () => {
  void test('looks beside the bundle first, then in the native build dir', () => {
    assert.deepEqual(addonCandidates('/usr/lib/mesh-node-agent', {})[0], '/usr/lib/mesh-node-agent/udp_batch.node');
    assert.equal(addonCandidates('/repo/src/dns', {})[1], '/repo/native/udp-batch/build/Release/udp_batch.node');
  });

  void test('MNA_UDP_BATCH_ADDON names the only file to try (tests load the sanitized build this way)', () => {
    assert.deepEqual(addonCandidates('/repo/src/dns', { MNA_UDP_BATCH_ADDON: '/tmp/x/udp_batch.node' }), ['/tmp/x/udp_batch.node']);
    assert.equal(addonCandidates('/repo/src/dns', { MNA_UDP_BATCH_ADDON: '' }).length, 2, 'empty is unset');
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

  void test('the layout check names every key that differs, is missing or is unknown', () => {
    assert.equal(layoutMismatch({ ...UDP_BATCH_LAYOUT }), undefined);
    const { ttlFirst: _dropped, ...missing } = UDP_BATCH_LAYOUT;
    const problem = layoutMismatch({ ...missing, ttlWords: 16, extra: 1 }) ?? '';
    assert.match(problem, /ttlWords is 16, expected 32/);
    assert.match(problem, /ttlFirst missing \(expected 3\)/);
    assert.match(problem, /extra unknown to src\/dns\/udp-batch-layout\.ts/);
    assert.match(layoutMismatch(undefined) ?? '', /exports no layout/);
  });

  void test("the real addon's layout matches; the same exports with another layout are refused with the reason", () => {
    const load = loadUdpBatch();
    assert.ok(load.addon !== undefined, `the udp-batch addon loads: ${reasonOf(load)}`);
    assert.ok(Object.isFrozen(load.addon.layout));
    const exports = { ...load.addon, layout: { ...load.addon.layout, statsLength: 44 } };
    const refused = checkAddon(exports, load.path);
    assert.equal(refused.addon, undefined);
    assert.match(reasonOf(refused), /statsLength is 44, expected 43; rebuild it \(npm run build:native\)/);
    assert.match(reasonOf(checkAddon({ ...load.addon, enableMemo: undefined }, load.path)), /missing enableMemo/);
  });

  void test('an addon built with one layout constant changed is refused at load, so the listener falls back to dgram', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-udp-batch-layout-'));
    try {
      const src = join(REPO_ROOT, 'native/udp-batch');
      const sources = (await readdir(src)).filter((f) => /\.[ch]$/.test(f));
      for (const f of sources) await copyFile(join(src, f), join(dir, f));
      const header = join(dir, 'udp_batch_layout.h');
      const text = await readFile(header, 'utf8');
      assert.match(text, /X\(TTL_WORDS, ttlWords, 32\)/);
      await writeFile(header, text.replace('X(TTL_WORDS, ttlWords, 32)', 'X(TTL_WORDS, ttlWords, 16)'));
      const out = join(dir, 'udp_batch.node');
      const cfiles = sources.filter((f) => f.endsWith('.c')).map((f) => join(dir, f));
      execFileSync('gcc', ['-shared', '-fPIC', '-O0', '-std=gnu11', '-DNAPI_VERSION=8', `-I${nodeHeaders()}`, ...cfiles, '-o', out], { stdio: 'pipe' });
      const load = loadUdpBatchFrom([out], {});
      assert.equal(load.addon, undefined);
      assert.match(reasonOf(load), /udp_batch\.node: its memory layout differs from src\/dns\/udp-batch-layout\.ts: ttlWords is 16, expected 32/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
