/**
 * The thin effectful shell of the planner: sends a plan's operations through the kernel's writer.
 * Removals are best effort and treat "already gone" as done. Each peer's operations go out back
 * to back, in flannel's order; if any of them fails, the ones that succeeded are undone, so a
 * peer is either fully programmed or absent (flannel rolls back the same way).
 */
import type { WriteError } from './kernel.js';
import type { ObservedCache } from './observed-cache.js';
import { undo, type Op, type Plan } from './plan.js';

export interface ApplyFailure {
  subnet?: string;
  /** The removal that failed (peer failures name the subnet instead). */
  op?: Op;
  message: string;
}

export interface ApplyResult {
  writes: number;
  failures: ApplyFailure[];
  /** Subnets whose operations failed (and were rolled back). */
  failedSubnets: Set<string>;
}

const GONE = new Set(['ENOENT', 'ESRCH', 'ENODEV']);

/** Sends ops in order, pipelined; one error (or undefined) per op. */
export type Writer = (ops: readonly Op[]) => Promise<(WriteError | undefined)[]>;

/** `beforeRollback` sees the undo operations before they are sent (their echoes are ours, not drift). */
export async function applyPlan(write: Writer, plan: Plan, cache: ObservedCache, beforeRollback?: (ops: readonly Op[]) => void): Promise<ApplyResult> {
  const result: ApplyResult = { writes: 0, failures: [], failedSubnets: new Set() };

  const removalErrors = plan.removals.length === 0 ? [] : await write(plan.removals);
  result.writes += plan.removals.length;
  plan.removals.forEach((op, i) => {
    const err = removalErrors[i];
    if (err === undefined || GONE.has(err.errno)) cache.applied(op);
    else result.failures.push({ op, message: err.message });
  });

  const ops = plan.peers.flatMap((p) => p.ops);
  const errors = await write(ops);
  result.writes += ops.length;
  const rollback: Op[] = [];
  let at = 0;
  for (const peer of plan.peers) {
    const first = at;
    at += peer.ops.length;
    let failed = false;
    for (let i = first; i < at && !failed; i += 1) failed = errors[i] !== undefined;
    if (!failed) {
      for (const op of peer.ops) cache.applied(op);
      continue;
    }
    result.failedSubnets.add(peer.subnet);
    peer.ops.forEach((op, i) => {
      const e = errors[first + i];
      if (e !== undefined) result.failures.push({ subnet: peer.subnet, message: e.message });
      const u = e === undefined ? undo(op) : undefined;
      if (u !== undefined) rollback.push(u);
    });
  }
  if (rollback.length > 0) {
    beforeRollback?.(rollback);
    const undoErrors = await write(rollback);
    result.writes += rollback.length;
    rollback.forEach((op, i) => {
      const err = undoErrors[i];
      if (err === undefined || GONE.has(err.errno)) cache.applied(op);
    });
  }
  return result;
}
