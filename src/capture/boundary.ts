/**
 * Everything the capture controller asks of the host, as one narrow boundary: the kernel's rule
 * tables (apply with read-back, clean up), the host facts the rules are built from (passwd/group,
 * the agent's bypass group, resolv.conf) and the clock. The daemon uses the system one
 * (system-boundary.ts); unit tests pass fake tables and fake facts, so the controller's start,
 * reload, drift and error paths run without root.
 */
import type { Clock } from '../agent/clock.js';
import type { Owner } from '../host/owner.js';
import type { TablePlan } from './plan.js';
import type { Family, RuleSet } from './rules.js';

export type Backend = 'nft' | 'legacy';

export interface AppliedPlan extends TablePlan {
  family: Family;
}

export interface ApplyOutcome {
  /** Per family and table: what differed before (in-sync tables were not touched). */
  plans: AppliedPlan[];
  /** What still differs after the read-back (empty when installed equals built). */
  mismatch: string[];
}

/** Our part of the nat and raw tables, both families. */
export interface CaptureTables {
  readonly backend: Backend;
  /** One transaction per out-of-sync table, then a fresh read compared with `rules`. */
  apply(rules: RuleSet): Promise<ApplyOutcome>;
  /** Removes our jumps and chains from both families; rejects when any remain. */
  cleanup(): Promise<AppliedPlan[]>;
}

/** What the rules are built from, read from the host on every build. */
export interface CaptureHost {
  /** capture.proxyUser → uid/gid; rejects naming the key when unknown or root. */
  proxyOwner(user: string): Promise<Owner>;
  /** capture.agentGroup → a gid this process holds (joined at start); rejects when unknown or not joined. */
  agentGid(group: string): Promise<number>;
  /** The nameservers DNS capture redirects (the resolv.conf copy saved in stateDir, else the system one). */
  nameservers(stateDir: string): Promise<{ file: string; nameservers: string[] }>;
}

export interface CaptureBoundary {
  /** Finds the iptables backend; rejects when iptables is missing (start fails). */
  openTables(): Promise<CaptureTables>;
  host: CaptureHost;
  clock: Clock;
}
