/**
 * Desired rules vs what iptables-save shows → what to restore, per table. Pure. A table in sync
 * needs nothing; otherwise one iptables-restore --noflush transaction replaces our part of it:
 * drop our jumps from the built-in chains, flush our chains (a chain line flushes an existing
 * chain), delete our chains that are no longer wanted, and write the desired rules. Rules in
 * other chains, and other jumps in the built-in chains, are never named, so never touched.
 */
import { canonicalRule } from './canonical.js';
import { OWNED_CHAINS, TABLES, type TableName, type TableRules } from './rules.js';
import type { SavedTable } from './save-parse.js';

const OWNED = new Set<string>(OWNED_CHAINS);

export interface TablePlan {
  table: TableName;
  inSync: boolean;
  /** Human-readable differences (empty when in sync). */
  drift: string[];
  /** iptables-restore --noflush input; empty when in sync. */
  restore: string;
}

interface Desired {
  chains: string[];
  /** Owned chain → canonical specs. */
  owned: Map<string, string[]>;
  /** Built-in chain → canonical jump specs to owned chains. */
  jumps: Map<string, string[]>;
  lines: readonly string[];
}

function desiredOf(rules: TableRules | undefined): Desired {
  const owned = new Map<string, string[]>();
  const jumps = new Map<string, string[]>();
  for (const chain of rules?.chains ?? []) owned.set(chain, []);
  for (const line of rules?.rules ?? []) {
    const { chain, spec } = canonicalRule(line);
    const into = OWNED.has(chain) ? owned : jumps;
    if (!into.has(chain)) into.set(chain, []);
    into.get(chain)?.push(spec);
  }
  return { chains: [...(rules?.chains ?? [])], owned, jumps, lines: rules?.rules ?? [] };
}

function jumpsTo(specs: readonly string[]): number[] {
  const out: number[] = [];
  specs.forEach((spec, index) => {
    const target = /(?:^| )-j (\S+)/.exec(spec)?.[1];
    if (target !== undefined && OWNED.has(target)) out.push(index);
  });
  return out;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

export function planTable(table: TableName, rules: TableRules | undefined, observed: SavedTable | undefined): TablePlan {
  const desired = desiredOf(rules);
  const drift: string[] = [];
  const observedOwned = [...(observed?.chains.keys() ?? [])].filter((c) => OWNED.has(c));
  const observedJumps = new Map<string, { specs: string[]; raw: string[] }>();
  for (const [chain, specs] of observed?.chains ?? []) {
    if (OWNED.has(chain)) continue;
    const indexes = jumpsTo(specs);
    if (indexes.length === 0) continue;
    const raw = observed?.raw.get(chain) ?? [];
    observedJumps.set(chain, { specs: indexes.map((i) => specs[i] ?? ''), raw: indexes.map((i) => raw[i] ?? '') });
  }

  for (const chain of desired.chains) {
    const have = observed?.chains.get(chain);
    if (have === undefined) drift.push(`${table}/${chain}: missing`);
    else if (!same(have, desired.owned.get(chain) ?? [])) drift.push(`${table}/${chain}: rules differ`);
  }
  for (const chain of observedOwned) if (!desired.owned.has(chain)) drift.push(`${table}/${chain}: not wanted`);
  const jumpChains = new Set([...desired.jumps.keys(), ...observedJumps.keys()]);
  for (const chain of jumpChains) {
    if (!same(observedJumps.get(chain)?.specs ?? [], desired.jumps.get(chain) ?? [])) drift.push(`${table}/${chain}: jumps differ`);
  }
  if (drift.length === 0) return { table, inSync: true, drift, restore: '' };

  const lines = [`*${table}`];
  const declare = [...new Set([...observedOwned, ...desired.chains])];
  for (const chain of declare) lines.push(`:${chain} - [0:0]`);
  for (const [chain, jumps] of observedJumps) for (const raw of jumps.raw) lines.push(`-D ${chain} ${raw}`);
  for (const chain of observedOwned) if (!desired.owned.has(chain)) lines.push(`-X ${chain}`);
  lines.push(...desired.lines, 'COMMIT', '');
  return { table, inSync: false, drift, restore: lines.join('\n') };
}

/** Plans every table we manage for one family. `rules` lists the desired tables (none = clean up). */
export function planFamily(rules: readonly TableRules[], observed: ReadonlyMap<string, SavedTable>): TablePlan[] {
  return TABLES.map((table) => planTable(table, rules.find((r) => r.table === table), observed.get(table)));
}
