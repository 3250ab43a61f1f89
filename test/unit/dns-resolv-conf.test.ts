import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNameservers } from '../../src/host/resolv-conf.js';
import { savedUpstreams } from '../../src/dns/resolv-conf.js';

void describe('dns saved resolv.conf', () => {
  void test('parses nameservers, ignoring comments and options', () => {
    assert.deepEqual(parseNameservers('# x\nnameserver 10.0.0.1\noptions ndots:5\nnameserver fe80::1%eth0 # link\nsearch a b\n'), ['10.0.0.1', 'fe80::1']);
  });

  void test('first start copies /etc/resolv.conf minus our own listeners; later starts keep the copy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-dns-rc-'));
    try {
      const system = join(dir, 'system.conf');
      await writeFile(system, 'nameserver 127.0.0.1\nnameserver 10.96.0.10\nsearch svc.cluster.local\n');
      const listeners = [{ host: '127.0.0.1', port: 53 }];
      assert.deepEqual(await savedUpstreams(join(dir, 'state'), listeners, system), ['10.96.0.10']);
      assert.doesNotMatch(await readFile(join(dir, 'state', 'resolv.conf'), 'utf8'), /127\.0\.0\.1/);
      // The system file now points at the agent (what capture or an admin does): the copy is unaffected.
      await writeFile(system, 'nameserver 127.0.0.1\n');
      assert.deepEqual(await savedUpstreams(join(dir, 'state'), listeners, system), ['10.96.0.10']);
      // A listener on another port is not a loop.
      assert.deepEqual(await savedUpstreams(join(dir, 'other'), [{ host: '127.0.0.1', port: 5353 }], system), ['127.0.0.1']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
