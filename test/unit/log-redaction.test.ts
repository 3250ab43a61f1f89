import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger, REDACTED } from '../../src/log.js';

const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtest\n-----END RSA PRIVATE KEY-----';
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLWJ5dGVz';

test('keys, tokens and secret-named fields never reach the log line', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const log = createLogger({ level: 'info', destination: out });
  log.info({ pem: PEM, nested: { token: 'abc123', authorization: `Bearer ${JWT}` }, keyFile: '/etc/certs/key.pem', bits: 2048 }, `loaded ${JWT}`);
  log.error({ err: new Error(`CA said: ${PEM}`) }, 'failed with Bearer sekr3t');
  log.flush();
  await new Promise((resolve) => setImmediate(resolve));
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.ok(!text.includes('MIIEowIBAAKCAQEAtest'), text);
  assert.ok(!text.includes('c2lnbmF0dXJlLWJ5dGVz'), text);
  assert.ok(!text.includes('abc123'), text);
  assert.ok(!text.includes('sekr3t'), text);
  const first = lines[0] as { msg: string; pem: string; nested: { token: string }; keyFile: string; bits: number; level: string };
  assert.equal(first.msg, `loaded ${REDACTED}`);
  assert.equal(first.pem, REDACTED);
  assert.equal(first.nested.token, REDACTED);
  assert.equal(first.keyFile, '/etc/certs/key.pem', 'a path to a key is not a secret');
  assert.equal(first.bits, 2048);
  assert.equal(first.level, 'info');
  assert.match(String((lines[1] as { err: { message: string } }).err.message), /CA said: \[REDACTED\]/);
});
