/**
 * The capture boundary without a kernel: tables that keep the installed rules in memory (planned
 * and read back with the real planner and iptables-save parser), host facts the test sets, and a
 * fake clock. Faults are switched on by the test: a failing restore, a kernel that silently keeps
 * the old rules, a missing iptables, a changed /etc/passwd.
 */
import type { ApplyOutcome, AppliedPlan, CaptureBoundary, CaptureHost, CaptureTables } from '../../src/capture/boundary.js';
import type { Owner } from '../../src/host/owner.js';
import { planFamily } from '../../src/capture/plan.js';
import type { Family, RuleSet, TableRules } from '../../src/capture/rules.js';
import { parseSave, type SavedTable } from '../../src/capture/save-parse.js';
import { AgentError, ErrorCode } from '../../src/errors.js';
import { FakeClock } from './fake-clock.js';

/** What iptables-save would print for our rules of one family. */
function saved(tables: readonly TableRules[]): Map<string, SavedTable> {
  const text = tables.map((t) => [`*${t.table}`, ...t.chains.map((c) => `:${c} - [0:0]`), ...t.rules, 'COMMIT'].join('\n')).join('\n');
  return parseSave(text);
}

export class FakeTables implements CaptureTables {
  readonly backend = 'nft' as const;
  installed: RuleSet = { 4: [], 6: [] };
  /** Every rule set passed to apply, in order. */
  readonly applied: RuleSet[] = [];
  cleanups = 0;
  /** The next N applies reject before touching anything (a busy xtables lock). */
  failApplies = 0;
  /** Restores "succeed" but the kernel keeps what it had (read-back differs). */
  ignoreWrites = false;
  /** Applies in progress (more than one at a time would be a bug in the caller). */
  active = 0;
  maxActive = 0;
  private gate: Promise<void> | undefined;

  /** Until the returned function is called, applies wait (a slow iptables-restore). */
  hold(): () => void {
    let release = (): void => undefined;
    this.gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }

  async apply(rules: RuleSet): Promise<ApplyOutcome> {
    this.applied.push(rules);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.gate;
      return this.applyNow(rules);
    } finally {
      this.active -= 1;
    }
  }

  private applyNow(rules: RuleSet): ApplyOutcome {
    if (this.failApplies > 0) {
      this.failApplies -= 1;
      throw new AgentError(ErrorCode.IptablesFailed, 'iptables-nft-restore failed (4): Another app is currently holding the xtables lock');
    }
    const plans: AppliedPlan[] = [];
    for (const family of [4, 6] as const) {
      plans.push(...planFamily(rules[family], saved(this.installed[family])).map((p) => ({ ...p, family })));
    }
    if (!this.ignoreWrites) this.installed = structuredClone(rules);
    const mismatch = ([4, 6] as const).flatMap((family) =>
      planFamily(rules[family], saved(this.installed[family])).flatMap((p) => p.drift.map((d) => `ipv${family} ${d}`)),
    );
    return { plans, mismatch };
  }

  cleanup(): Promise<AppliedPlan[]> {
    this.cleanups += 1;
    return this.apply({ 4: [], 6: [] }).then(({ plans }) => plans);
  }

  /** Someone else's edit: drops the last rule of our first table in `family`. */
  tamper(family: Family): void {
    const [first, ...rest] = this.installed[family];
    if (first === undefined) throw new Error(`nothing installed for ipv${family}`);
    this.installed = { ...this.installed, [family]: [{ ...first, rules: first.rules.slice(0, -1) }, ...rest] };
  }

  ruleCount(family: Family): number {
    return this.installed[family].reduce((n, t) => n + t.rules.length, 0);
  }
}

export class FakeHost implements CaptureHost {
  users = new Map<string, Owner>([['istio-proxy', { uid: 1337, gid: 1337 }]]);
  groups = new Map<string, number>([['mesh-node-agent', 1500]]);
  resolv = { file: '/etc/resolv.conf', nameservers: ['10.0.0.2'] };
  lookups = 0;

  proxyOwner(user: string): Promise<Owner> {
    this.lookups += 1;
    const owner = this.users.get(user);
    if (owner === undefined) return Promise.reject(new AgentError(ErrorCode.ConfigInvalid, `capture.proxyUser: user "${user}" is not in /etc/passwd`));
    return Promise.resolve(owner);
  }

  agentGid(group: string): Promise<number> {
    const gid = this.groups.get(group);
    if (gid === undefined) return Promise.reject(new AgentError(ErrorCode.ConfigInvalid, `capture.agentGroup: group "${group}" is not in /etc/group`));
    return Promise.resolve(gid);
  }

  nameservers(): Promise<{ file: string; nameservers: string[] }> {
    return Promise.resolve({ file: this.resolv.file, nameservers: [...this.resolv.nameservers] });
  }
}

export interface FakeCaptureBoundary extends CaptureBoundary {
  tables: FakeTables;
  host: FakeHost;
  clock: FakeClock;
  /** When set, openTables rejects with it (no iptables binary). */
  missing?: Error;
}

export function fakeCaptureBoundary(): FakeCaptureBoundary {
  const boundary: FakeCaptureBoundary = {
    tables: new FakeTables(),
    host: new FakeHost(),
    clock: new FakeClock(Date.parse('2030-01-01T00:00:00Z')),
    openTables: () => (boundary.missing === undefined ? Promise.resolve(boundary.tables) : Promise.reject(boundary.missing)),
  };
  return boundary;
}
