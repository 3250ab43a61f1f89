/** Parses iptables-save output into tables of chains and their rules (canonical). Pure. */
import { canonicalRule } from './canonical.js';

export interface SavedTable {
  /** Chain name → its rules (canonical specs, in order). Built-in chains included. */
  chains: Map<string, string[]>;
  /** The rule lines exactly as printed, per chain (for -D commands). */
  raw: Map<string, string[]>;
}

export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let current: SavedTable | undefined;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (trimmed.startsWith('*')) {
      current = { chains: new Map(), raw: new Map() };
      tables.set(trimmed.slice(1).trim(), current);
    } else if (trimmed === 'COMMIT') {
      current = undefined;
    } else if (current !== undefined && trimmed.startsWith(':')) {
      const name = trimmed.slice(1).split(/\s+/)[0] ?? '';
      current.chains.set(name, []);
      current.raw.set(name, []);
    } else if (current !== undefined && trimmed.startsWith('-A ')) {
      const rule = canonicalRule(trimmed);
      if (!current.chains.has(rule.chain)) {
        current.chains.set(rule.chain, []);
        current.raw.set(rule.chain, []);
      }
      current.chains.get(rule.chain)?.push(rule.spec);
      current.raw.get(rule.chain)?.push(trimmed.slice(3 + rule.chain.length).trim());
    }
  }
  return tables;
}

/** iptables-save text without comments and counters, for before/after comparisons. */
export function stripSaveNoise(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.replace(/\[\d+:\d+\]/g, '[0:0]'))
    .join('\n');
}
