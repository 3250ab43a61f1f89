/**
 * The thin effectful shell around iptables-restore / iptables-save: picks the binaries of the
 * backend in use (nft or legacy), reads what is installed, applies a plan as one transaction per
 * table, verifies, and cleans up. Every command runs through `Exec`, so tests can aim it into a
 * network namespace (`ip netns exec NAME …`) and the daemon runs it directly.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { AgentError, ErrorCode } from '../errors.js';
import type { AppliedPlan, ApplyOutcome, Backend, CaptureTables } from './boundary.js';
import { planFamily, type TablePlan } from './plan.js';
import { TABLES, type Family, type RuleSet, type TableRules } from './rules.js';
import { parseSave, type SavedTable } from './save-parse.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Exec = (cmd: string, args: readonly string[], input?: string) => Promise<ExecResult>;

/** iptables-restore can block on the xtables lock (istio#29249): every call is bounded. */
const COMMAND_TIMEOUT_MS = 45_000;
const WAIT_SECONDS = '30';

export const directExec: Exec = (cmd, args, input) =>
  new Promise((resolve) => {
    const child = execFile(cmd, [...args], { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 127;
      resolve({ code, stdout, stderr: err !== null && typeof err.code !== 'number' ? `${stderr}${err.message}` : stderr });
    });
    // A tool that exits without reading stdin (iptables -V, -save) must not turn into EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });

export interface Binaries {
  backend: Backend;
  save: Record<Family, string>;
  restore: Record<Family, string>;
}

async function onPath(name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      await access(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** `iptables -V` says which backend the distribution's default iptables uses; we use the same. */
export async function detectBinaries(exec: Exec): Promise<Binaries> {
  const version = await exec('iptables', ['-V']);
  if (version.code !== 0) {
    throw new AgentError(ErrorCode.IptablesFailed, `iptables -V failed (${version.code}): ${version.stderr.trim()}; install the iptables package`);
  }
  const backend: Backend = /legacy/.test(version.stdout) ? 'legacy' : 'nft';
  // The variant binaries are named iptables-nft-save, ip6tables-legacy-restore, …
  const variant = async (family: Family, tool: 'save' | 'restore'): Promise<string> => {
    const stem = family === 4 ? 'iptables' : 'ip6tables';
    const specific = `${stem}-${backend}-${tool}`;
    return (await onPath(specific)) ? specific : `${stem}-${tool}`;
  };
  return {
    backend,
    save: { 4: await variant(4, 'save'), 6: await variant(6, 'save') },
    restore: { 4: await variant(4, 'restore'), 6: await variant(6, 'restore') },
  };
}

export class Iptables implements CaptureTables {
  constructor(
    readonly binaries: Binaries,
    private readonly exec: Exec = directExec,
  ) {}

  get backend(): Backend {
    return this.binaries.backend;
  }

  /** Tables this agent manages, as installed; a table the kernel lacks reads as empty. */
  async read(family: Family): Promise<Map<string, SavedTable>> {
    const out = new Map<string, SavedTable>();
    for (const table of TABLES) {
      const result = await this.exec(this.binaries.save[family], ['-t', table]);
      if (result.code !== 0) {
        if (/does not exist|can't initialize/i.test(result.stderr)) continue;
        throw new AgentError(ErrorCode.IptablesFailed, `${this.binaries.save[family]} -t ${table} failed (${result.code}): ${result.stderr.trim()}`);
      }
      const parsed = parseSave(result.stdout).get(table);
      if (parsed !== undefined) out.set(table, parsed);
    }
    return out;
  }

  /** False when the family's tools cannot read the kernel (e.g. IPv6 disabled): nothing to clean there. */
  async usable(family: Family): Promise<boolean> {
    return (await this.exec(this.binaries.save[family], ['-t', 'nat'])).code === 0;
  }

  /** The whole ruleset as iptables-save prints it (all tables), for before/after comparisons. */
  async saveAll(family: Family): Promise<string> {
    const result = await this.exec(this.binaries.save[family], []);
    if (result.code !== 0) throw new AgentError(ErrorCode.IptablesFailed, `${this.binaries.save[family]} failed: ${result.stderr.trim()}`);
    return result.stdout;
  }

  async plan(family: Family, rules: readonly TableRules[]): Promise<TablePlan[]> {
    return planFamily(rules, await this.read(family));
  }

  /** Applies each out-of-sync table as one transaction. Returns the plans (drift found before applying). */
  async applyFamily(family: Family, rules: readonly TableRules[]): Promise<TablePlan[]> {
    const plans = await this.plan(family, rules);
    for (const plan of plans) {
      if (plan.inSync) continue;
      const cmd = this.binaries.restore[family];
      const result = await this.exec(cmd, ['--noflush', '--wait', WAIT_SECONDS], plan.restore);
      if (result.code !== 0) {
        throw new AgentError(ErrorCode.IptablesFailed, `${cmd} --noflush (table ${plan.table}) failed (${result.code}): ${result.stderr.trim()}; nothing in that table was changed`);
      }
    }
    return plans;
  }

  /** Empty when what is installed equals what was built; else the differences. */
  async verifyFamily(family: Family, rules: readonly TableRules[]): Promise<string[]> {
    return (await this.plan(family, rules)).flatMap((p) => p.drift);
  }

  async apply(ruleSet: RuleSet): Promise<ApplyOutcome> {
    const plans: AppliedPlan[] = [];
    const mismatch: string[] = [];
    for (const family of [4, 6] as const) {
      if (family === 6 && ruleSet[6].length === 0 && !(await this.usable(6))) continue;
      plans.push(...(await this.applyFamily(family, ruleSet[family])).map((plan) => ({ ...plan, family })));
      mismatch.push(...(await this.verifyFamily(family, ruleSet[family])).map((d) => `ipv${family} ${d}`));
    }
    return { plans, mismatch };
  }

  /** Removes our jumps and chains from both families; other rules stay as they are. */
  async cleanup(): Promise<AppliedPlan[]> {
    return this.apply({ 4: [], 6: [] }).then((r) => {
      if (r.mismatch.length > 0) throw new AgentError(ErrorCode.IptablesFailed, `capture rules still present after cleanup: ${r.mismatch.join('; ')}`);
      return r.plans;
    });
  }
}
