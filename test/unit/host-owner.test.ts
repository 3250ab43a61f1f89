/** The one owner lookup: names through passwd and group, numbers as is, unknown as undefined. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupOwner, resolveOwner } from '../../src/host/owner.js';

const passwd = [
  '# comment:x:1:1',
  'root:x:0:0:root:/root:/bin/bash',
  'istio-proxy:x:998:997::/var/lib/istio:/bin/false',
  'nogroup-user:x:1200:1300::/:/bin/false',
  'broken:x:notanumber:1::/:/bin/false',
  'badgid:x:1400:zz::/:/bin/false',
  '',
].join('\n');
const group = 'root:x:0:\nistio-proxy:x:996:\n';

void describe('resolveOwner', () => {
  void test('a name: its uid, and the gid of the group of the same name', () => {
    assert.deepEqual(resolveOwner('istio-proxy', passwd, group), { uid: 998, gid: 996 });
    assert.deepEqual(resolveOwner(' istio-proxy ', passwd, group), { uid: 998, gid: 996 });
  });
  void test('without a group of that name, the primary group; without a valid primary group, the uid', () => {
    assert.deepEqual(resolveOwner('nogroup-user', passwd, group), { uid: 1200, gid: 1300 });
    assert.deepEqual(resolveOwner('badgid', passwd, group), { uid: 1400, gid: 1400 });
  });
  void test('a number is the uid and (as Istio defaults PROXY_GID) the gid, in passwd or not', () => {
    assert.deepEqual(resolveOwner('1337', passwd, group), { uid: 1337, gid: 1337 });
    assert.deepEqual(resolveOwner('998', passwd, group), { uid: 998, gid: 998 });
  });
  void test('unknown, unset, commented out, malformed or out of range is undefined', () => {
    for (const name of ['envoy', '', '  ', '# comment', 'broken', '4294967295']) assert.equal(resolveOwner(name, passwd, group), undefined, JSON.stringify(name));
  });
  void test('root resolves like anyone (refusing it is the caller’s policy)', () => {
    assert.deepEqual(resolveOwner('root', passwd, group), { uid: 0, gid: 0 });
  });
});

void describe('lookupOwner', () => {
  void test('reads the given files; missing files read as empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-owner-'));
    try {
      const files = { passwd: join(dir, 'passwd'), group: join(dir, 'group') };
      await writeFile(files.passwd, passwd);
      await writeFile(files.group, group);
      assert.deepEqual(await lookupOwner('istio-proxy', files), { uid: 998, gid: 996 });
      const missing = { passwd: join(dir, 'none'), group: join(dir, 'none') };
      assert.equal(await lookupOwner('istio-proxy', missing), undefined);
      assert.deepEqual(await lookupOwner('1337', missing), { uid: 1337, gid: 1337 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
