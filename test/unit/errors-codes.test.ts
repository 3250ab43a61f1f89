/** Every error src/ raises carries a stable code, and every code is documented (docs/errors.md is generated from these). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { AgentError, ERROR_DOCS, ErrorCode, isRefusal } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/agent-process.js';

test('codes are unique MNA_ names, each with a meaning and a fix', () => {
  const codes = Object.values(ErrorCode);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) {
    assert.match(code, /^MNA_[A-Z_]+$/);
    assert.ok(ERROR_DOCS[code].meaning.length > 20 && ERROR_DOCS[code].fix.length > 3, code);
  }
  assert.deepEqual(Object.keys(ERROR_DOCS).sort(), [...codes].sort(), 'no doc for a code that does not exist');
});

test('src/ constructs no plain Error, TypeError or RangeError, and no class extends Error but AgentError', async () => {
  const src = join(REPO_ROOT, 'src');
  const offenders: string[] = [];
  const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 100, 'the scan sees the source tree');
  for (const file of files) {
    const text = await readFile(join(src, file), 'utf8');
    text.split('\n').forEach((line, i) => {
      const plain = /\bnew (?:Error|TypeError|RangeError)\(/.test(line);
      const subclass = /\bextends Error\b/.test(line) && !(file === 'errors.ts' && /class AgentError\b/.test(line));
      if (plain || subclass) offenders.push(`${relative(REPO_ROOT, join(src, file))}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, [], 'throw AgentError with an ErrorCode (add one to src/errors.ts if none fits)');
});

test('a refusal is an AgentError that is not a retried outage, watch reset or cancellation', () => {
  assert.equal(isRefusal(new AgentError(ErrorCode.ConfigInvalid, 'x')), true);
  for (const code of [ErrorCode.EtcdUnavailable, ErrorCode.WatchReset, ErrorCode.Cancelled]) assert.equal(isRefusal(new AgentError(code, 'x')), false, code);
  assert.equal(isRefusal(new Error('plain')), false);
});
