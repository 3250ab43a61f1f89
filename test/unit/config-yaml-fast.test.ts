/**
 * The fast YAML reader against the full parser it stands in for: on every input it either returns
 * exactly the full parser's value (and the full parser finds no problem), or gives up. Inputs: the
 * shipped configs, hand-written cases of each construct, and thousands of seeded random edits of
 * real configs (quotes, colons, dashes, brackets, indentation, comments, numbers-as-text).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseYamlFast } from '../../src/config/yaml-fast.js';
import { parseYaml } from '../../src/config/yaml-source.js';
import { REPO_ROOT } from '../helpers/agent-process.js';

const SHIPPED = ['examples/seed-000.yaml', 'examples/demo/config.yaml', 'debian/config.yaml'].map((f) => readFileSync(join(REPO_ROOT, f), 'utf8'));

function peersConfig(n: number): string {
  const peers = Array.from({ length: n }, (_, i) => ({ subnet: `10.${i >> 8}.${i & 255}.0/24`, publicIP: `172.16.${i >> 8}.${i & 255}`, vtepMAC: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }));
  return stringify({ overlay: { enabled: true, network: '10.0.0.0/8', peers } });
}

/** Same value as the full parser, or undefined; and never a value where the full parser objects. */
function agrees(text: string): 'fast' | 'bail' {
  const fast = parseYamlFast(text);
  const full = parseYaml(text, 'config.yaml');
  if (fast === undefined) return 'bail';
  assert.deepEqual(full.issues, [], `fast path accepted what the full parser refuses:\n${text}`);
  assert.deepStrictEqual(fast, full.source?.value, `values differ for:\n${text}`);
  return 'fast';
}

const ACCEPTED = [
  '',
  '# only a comment\n',
  '---\na: 1\n',
  'a: 1\nb: -2\nc: +3\nd: 0o17\ne: 0x1F\nf: 1.5\ng: .5\nh: 1e3\ni: -.inf\nj: .NaN\nk: 007\nl: 1.\n',
  'a: true\nb: False\nc: TRUE\nd: null\ne: ~\nf:\ng: Null\nh: yes\ni: on\nj: 0b101\nk: 1_000\n',
  'a: 10.234.0.0/16\nb: 127.0.0.1:15030\nc: http://192.168.0.62:2379\nd: 02:00:00:00:00:01\ne: 30s\nf: 1:30\n',
  'a: "quoted # not a comment"\nb: \'it\'\'s\'\nc: "tab\\tand\\\\slash\\"q\\/"\nd: value # comment\ne: a#b\n',
  'a:   spaced   value   \nb: x  y\n',
  'a:\n  b:\n    c: 1\n  d: [1, two, "3", 4.5, null, true]\n',
  'a:\n- x\n- y\nb: 1\n',
  'list:\n  - name: a\n    addresses: [10.0.0.1, 10.0.0.2]\n  - name: b\n    addresses:\n    - 10.0.0.3\n',
  'hosts:\n  - { name: istio-pilot, addresses: [192.168.0.62] }\n  - {name: "x y", addresses: []}\n',
  'a: {}\nb: []\nc: { d: { e: [f, [g, h]] } }\n',
  'a:\n  -\n  - 1\n  -   b: 2\n      c: 3\n',
  '"quoted key": 1\n\'single\': 2\nkey with spaces: 3\n',
  'a: -x\nb: ?x\nc: :x\nd: "true"\ne: \'12\'\n',
  '  indented: 1\n  top: 2\n',
  'x: é ünïcödé ✓\n',
  'a: value\u00a0\n',
];

const REFUSED = [
  'a: &anchor 1\nb: *anchor\n',
  'a: !!str 1\n',
  'a: |\n  block\n',
  'a: >\n  folded\n',
  'a: b\na: c\n',
  '__proto__: {}\n',
  'a:\n  constructor: 1\n',
  'a: { prototype: 1 }\n',
  'a: plain\n  continued\n',
  'a: "open\n  quote"\n',
  'a: [1,\n  2]\n',
  'a:\tb\n',
  'a: b\r\n',
  '---\na: 1\n---\nb: 2\n',
  '%YAML 1.2\n---\na: 1\n',
  '? complex\n: key\n',
  '[a]: b\n',
  '1: numeric key\n',
  'true: boolean key\n',
  '- a\n- b\n',
  'just text\n',
  'a: b: c\n',
  'a: [1, 2,]\n',
  'a: [1, , 2]\n',
  'a: {b}\n',
  'a: {b:1}\n',
  'a: "\\x41"\n',
  '<<: {a: 1}\n',
  'a: @reserved\n',
  'a: `reserved`\n',
  'a: \u0001\n',
];

describe('fast YAML reader', () => {
  test('shipped configs and a 2000-peer config: the full parser\'s value', () => {
    for (const text of [...SHIPPED, peersConfig(2000)]) assert.equal(agrees(text), 'fast');
  });

  test('each supported construct reads as the full parser reads it', () => {
    for (const text of ACCEPTED) assert.equal(agrees(text), 'fast', text);
  });

  test('everything else is left to the full parser', () => {
    for (const text of REFUSED) assert.equal(agrees(text), 'bail', text);
  });

  test('random edits of real configs: same value or left to the full parser, never a different answer', (t) => {
    let seed = 0x5eed;
    const random = (n: number): number => {
      // xorshift32: the same edits on every run.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const alphabet = [':', ': ', '-', '- ', '#', ' #', '"', "'", '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', '?', '\n', ' ', '  ', 'x', '0', '1', '.', '/', 'e', 'null', 'true', '0x', '0o', '\\', '~'];
    const bases = [...SHIPPED, peersConfig(20)];
    let fast = 0;
    const rounds = 2000;
    for (let i = 0; i < rounds; i += 1) {
      let text = bases[random(bases.length)] ?? '';
      for (let edits = 1 + random(3); edits > 0; edits -= 1) {
        const at = random(text.length + 1);
        const kind = random(4);
        if (kind === 0) text = text.slice(0, at) + (alphabet[random(alphabet.length)] ?? '') + text.slice(at);
        else if (kind === 1) text = text.slice(0, at) + text.slice(at + 1 + random(3));
        else if (kind === 2) {
          // Re-indent one line.
          const start = text.lastIndexOf('\n', at - 1) + 1;
          text = text.slice(0, start) + ' '.repeat(random(3)) + text.slice(start).replace(/^ {0,2}/, '');
        } else {
          // Duplicate one line elsewhere.
          const lines = text.split('\n');
          lines.splice(random(lines.length), 0, lines[random(lines.length)] ?? '');
          text = lines.join('\n');
        }
      }
      if (agrees(text) === 'fast') fast += 1;
    }
    // Most edits keep a readable config: the comparison above must have had something to compare.
    assert.ok(fast > rounds / 4, `fast path taken ${fast} of ${rounds} times`);
    t.diagnostic(`fast path taken for ${fast} of ${rounds} edited configs`);
  });
});
