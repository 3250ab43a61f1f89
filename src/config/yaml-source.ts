/**
 * A config file's YAML: read by the fast path (yaml-fast.ts) when it can, else by the full parser,
 * which keeps positions so every problem can be reported as file:line:col. Positions of a file the
 * fast path read come from parsing it again, only when something asks for one.
 */
import { LineCounter, isMap, isScalar, parseDocument, visit, type Document } from 'yaml';
import { ConfigError, errorMessage, type ConfigIssue } from '../errors.js';
import { keyProblems } from './key-guard.js';
import { parseYamlFast } from './yaml-fast.js';

export interface YamlSource {
  file: string;
  doc: Document;
  lines: LineCounter;
  value: Record<string, unknown>;
}

/** A config file's YAML value now, its positions on demand. */
export interface YamlInput {
  file: string;
  text: string;
  value: Record<string, unknown>;
  positions(): YamlSource;
}

export function readYaml(text: string, file: string): { input?: YamlInput; issues: ConfigIssue[] } {
  const fast = parseYamlFast(text);
  if (fast !== undefined) {
    let source: YamlSource | undefined;
    return { input: { file, text, value: fast, positions: () => (source ??= positionsOf(text, file)) }, issues: [] };
  }
  const parsed = parseYaml(text, file);
  const source = parsed.source;
  if (source === undefined) return { issues: parsed.issues };
  return { input: { file, text, value: source.value, positions: () => source }, issues: [] };
}

function positionsOf(text: string, file: string): YamlSource {
  const parsed = parseYaml(text, file);
  // Unreachable while the fast path takes only what the full parser reads without a problem
  // (test/unit/config-yaml-fast.test.ts); if it ever is, the problems are reported, not hidden.
  if (parsed.source === undefined) throw new ConfigError(parsed.issues);
  return parsed.source;
}

export function parseYaml(text: string, file: string): { source?: YamlSource; issues: ConfigIssue[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = doc.errors.map((err) => {
    const pos = err.linePos?.[0] ?? { line: 1, col: 1 };
    return { file, line: pos.line, col: pos.col, key: '', message: firstLine(err.message) };
  });
  if (issues.length > 0) return { issues };
  // Before any object is built: a `__proto__` key must never reach an assignment.
  const keys = keyProblems(doc, lines, file);
  if (keys.length > 0) return { issues: keys };
  let value: unknown;
  try {
    value = doc.toJS() ?? {};
  } catch (err) {
    // An alias with no anchor before it, or aliases that would multiply the document.
    return { issues: [{ file, ...aliasPosition(doc, lines), key: '', message: `${firstLine(errorMessage(err))}; write the value out instead of the alias` }] };
  }
  if (typeof value !== 'object' || Array.isArray(value) || value === null) {
    return { issues: [{ file, line: 1, col: 1, key: '', message: 'the config must be a mapping of keys (e.g. "overlay:")' }] };
  }
  return { source: { file, doc, lines, value: value as Record<string, unknown> }, issues };
}

/** Position of the value at `path`, or of the key itself when `keyName` is given. */
export function locate(source: YamlSource, path: readonly PropertyKey[], keyName?: string): { line: number; col: number } | undefined {
  const keys = path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (keyName !== undefined) {
    const parent = keys.length === 0 ? source.doc.contents : source.doc.getIn(keys, true);
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === keyName);
      const range = isScalar(pair?.key) ? pair.key.range : undefined;
      if (range !== undefined && range !== null) return source.lines.linePos(range[0]);
    }
  }
  for (let n = keys.length; n >= 0; n -= 1) {
    const node = n === 0 ? source.doc.contents : source.doc.getIn(keys.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range !== undefined && node !== null) return source.lines.linePos(range[0]);
  }
  return undefined;
}

/** Whether the YAML itself sets the value at `path` (not an ancestor). */
export function hasPath(source: YamlSource, path: readonly PropertyKey[]): boolean {
  const keys = path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  return source.doc.hasIn(keys) && source.doc.getIn(keys) !== null;
}

/** Where the first alias the document cannot resolve is (else its first alias), for the error. */
function aliasPosition(doc: Document, lines: LineCounter): { line: number; col: number } {
  let found: number | undefined;
  let first: number | undefined;
  visit(doc, {
    Alias(_, node) {
      const start = node.range?.[0];
      first ??= start;
      if (found === undefined && node.resolve(doc) === undefined) found = start;
    },
  });
  const at = found ?? first;
  return at === undefined ? { line: 1, col: 1 } : lines.linePos(at);
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
