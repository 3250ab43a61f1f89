/**
 * Refuses YAML keys that would reach JavaScript's object machinery once the document becomes
 * objects: assigning `__proto__` rewires a prototype (and a merge into it pollutes every object in
 * the process), `constructor`/`prototype` shadow what code expects to find. No config key has
 * these names, so they are errors with their position, found on the parsed tree before any object
 * is built. Keys that are not plain scalars (maps, lists, aliases used as keys) are refused too:
 * turned into objects they become text nobody wrote.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigIssue } from '../errors.js';

export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function keyProblems(doc: Document, lines: LineCounter, file: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (node: Node | null | undefined): { line: number; col: number } => {
    const start = node?.range?.[0];
    return start === undefined ? { line: 1, col: 1 } : lines.linePos(start);
  };
  const walk = (node: unknown, path: string[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        if (!isScalar(key)) {
          const where = at(isAlias(key) || isMap(key) || isSeq(key) ? key : (pair.value as Node | null));
          issues.push({ file, ...where, key: path.join('.'), message: 'a key must be plain text (not a list, mapping or alias)' });
          continue;
        }
        const name = String(key.value);
        const here = [...path, name];
        if (FORBIDDEN_KEYS.has(name)) {
          issues.push({ file, ...at(key), key: here.join('.'), message: `"${name}" is not allowed as a key (it names JavaScript object internals); remove it` });
          continue;
        }
        walk(pair.value, here);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => walk(item, [...path, String(index)]));
    }
  };
  walk(doc.contents, []);
  return issues;
}
