import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEnvFile } from '../../src/config/env-file.js';
import { ConfigError } from '../../src/errors.js';

function issuesOf(text: string): string[] {
  try {
    parseEnvFile(text, '/x/cluster.env');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message.split('\n');
  }
  assert.fail('expected a ConfigError');
}

describe('env file parser', () => {
  test('reads the shapes istio-start.sh sources', () => {
    const env = parseEnvFile(
      [
        '# written by istioctl',
        '',
        "ISTIO_SERVICE_CIDR='10.96.0.0/12'",
        'export CA_ADDR="istiod.istio-system.svc:15012"',
        'ISTIO_INBOUND_PORTS=*',
        'POD_NAMESPACE=bar   # trailing comment',
        'EMPTY=',
        'QUOTED="say \\"hi\\""',
        'MIXED=a"b c"d',
      ].join('\n'),
      '/x/cluster.env',
    );
    assert.equal(env.get('ISTIO_SERVICE_CIDR')?.value, '10.96.0.0/12');
    assert.equal(env.get('CA_ADDR')?.value, 'istiod.istio-system.svc:15012');
    assert.equal(env.get('CA_ADDR')?.line, 4);
    assert.equal(env.get('ISTIO_INBOUND_PORTS')?.value, '*');
    assert.equal(env.get('POD_NAMESPACE')?.value, 'bar');
    assert.equal(env.get('EMPTY')?.value, '');
    assert.equal(env.get('QUOTED')?.value, 'say "hi"');
    assert.equal(env.get('MIXED')?.value, 'ab cd');
    assert.equal(env.size, 7);
  });

  test('a line without = names file and line', () => {
    assert.deepEqual(issuesOf('A=1\nNOEQUALS\n'), ['/x/cluster.env:2:1: (root): expected KEY=VALUE, got "NOEQUALS"; fix or comment out the line']);
  });

  test('rejects expansions, unterminated quotes, bad names, unquoted spaces and duplicates', () => {
    const text = ['A=${HOME}/x', 'B="open', '1C=x', 'D=two words', 'E=1', 'E=2'].join('\n');
    const issues = issuesOf(text);
    assert.equal(issues.length, 5);
    assert.match(issues[0] ?? '', /^\/x\/cluster\.env:1:3: A: shell expansion is not supported/);
    assert.match(issues[1] ?? '', /^\/x\/cluster\.env:2:\d+: B: unterminated double quote/);
    assert.match(issues[2] ?? '', /^\/x\/cluster\.env:3:1: 1C: not a valid variable name/);
    assert.match(issues[3] ?? '', /^\/x\/cluster\.env:4:\d+: D: unquoted space/);
    assert.match(issues[4] ?? '', /^\/x\/cluster\.env:6:1: E: set again \(first set on line 5\)/);
  });
});
