/**
 * The thin effectful shell of the planner: sends a plan's operations, pipelined on one socket
 * (the socket bounds how many are in flight). Removals are best effort and treat "already gone"
 * as done. Each peer's operations go out back to back, in order; if any of them fails, the ones
 * that succeeded are undone, so a peer is either fully programmed or absent (flannel rolls back
 * the same way).
 */
import type { Device } from '../netlink/neighbours.js';
import { deleteFdb, deleteNeighbour, setFdb, setNeighbour } from '../netlink/neighbours.js';
import { deleteRoute, replaceRoute } from '../netlink/routes.js';
import { errnoOf, type RtSocket } from '../netlink/socket.js';
import { errorMessage } from '../errors.js';
import type { ObservedCache } from './observed-cache.js';
import { undo, type Op, type Plan } from './plan.js';

export interface ApplyFailure {
  subnet?: string;
  message: string;
}

export interface ApplyResult {
  writes: number;
  failures: ApplyFailure[];
  /** Subnets whose operations failed (and were rolled back). */
  failedSubnets: Set<string>;
}

const GONE = new Set(['ENOENT', 'ESRCH', 'ENODEV']);

export function send(s: RtSocket, dev: Device, op: Op): Promise<unknown> {
  switch (op.type) {
    case 'neigh-set':
      return setNeighbour(s, dev, op);
    case 'neigh-del':
      return deleteNeighbour(s, dev, op);
    case 'fdb-set':
      return setFdb(s, dev, op);
    case 'fdb-del':
      return deleteFdb(s, dev, op);
    case 'route-set':
      return replaceRoute(s, dev, op);
    case 'route-del':
      return deleteRoute(s, dev, op);
  }
}

export async function applyPlan(s: RtSocket, dev: Device, plan: Plan, cache: ObservedCache): Promise<ApplyResult> {
  const result: ApplyResult = { writes: 0, failures: [], failedSubnets: new Set() };
  const removals = plan.removals.map(async (op) => {
    result.writes += 1;
    try {
      await send(s, dev, op);
      cache.applied(op);
    } catch (err) {
      if (GONE.has(errnoOf(err))) cache.applied(op);
      else result.failures.push({ message: errorMessage(err) });
    }
  });
  await Promise.all(removals);

  const peers = plan.peers.map(async (peer) => {
    result.writes += peer.ops.length;
    const settled = await Promise.allSettled(peer.ops.map((op) => send(s, dev, op)));
    const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === 0) {
      for (const op of peer.ops) cache.applied(op);
      return;
    }
    result.failedSubnets.add(peer.subnet);
    for (const f of failed) result.failures.push({ subnet: peer.subnet, message: errorMessage(f.reason) });
    const rollback = peer.ops.filter((_, i) => settled[i]?.status === 'fulfilled').map(undo).filter((op): op is Op => op !== undefined);
    result.writes += rollback.length;
    await Promise.allSettled(rollback.map(async (op) => {
      await send(s, dev, op);
      cache.applied(op);
    }));
  });
  await Promise.all(peers);
  return result;
}
