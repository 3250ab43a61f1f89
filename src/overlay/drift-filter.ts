/**
 * Which kernel notifications mean drift on our device (pure, with an injectable clock): a
 * deletion we did not send, a neighbour/FDB entry/route that is not what we want, any change of
 * the device itself or loss of its address. Echoes of our own writes are not drift.
 */
import { AF_BRIDGE, AF_INET } from '../netlink/codec.js';
import type { KernelEvent } from '../netlink/event-types.js';
import { RT_TABLE_MAIN } from '../netlink/routes.js';
import type { Op } from './plan.js';

export interface Verdict {
  /** Something on the device differs from what we want: resync. */
  drift: boolean;
  /** The device itself changed: check it (and re-create it if it is gone). */
  device: boolean;
}

export interface WantedView {
  neighbourMac: ReadonlyMap<string, string>;
  fdbDst: ReadonlyMap<string, string>;
  peers: ReadonlyMap<string, unknown>;
}

/** How long a deletion we sent waits for its notification. */
const OWN_DELETE_WINDOW_MS = 5000;

function deleteKey(op: Op): string | undefined {
  switch (op.type) {
    case 'neigh-del':
      return `n|${op.ip}`;
    case 'fdb-del':
      return `f|${op.mac}|${op.dst ?? ''}`;
    case 'route-del':
      return `r|${op.dst}`;
    default:
      return undefined;
  }
}

export class DriftFilter {
  private readonly ownDeletes = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Deletions about to be sent: their notifications are ours, not drift. */
  expect(ops: readonly Op[]): void {
    const now = this.now();
    for (const [key, until] of this.ownDeletes) if (until < now) this.ownDeletes.delete(key);
    for (const op of ops) {
      const key = deleteKey(op);
      if (key !== undefined) this.ownDeletes.set(key, now + OWN_DELETE_WINDOW_MS);
    }
  }

  classify(e: KernelEvent, dev: { index: number; name: string }, wanted: WantedView): Verdict {
    switch (e.kind) {
      case 'link':
        if (e.index !== dev.index && e.name !== dev.name) return { drift: false, device: false };
        return { drift: e.op === 'del', device: true };
      case 'addr':
        return { drift: false, device: e.index === dev.index && e.op === 'del' };
      case 'neigh': {
        if (e.index !== dev.index) return { drift: false, device: false };
        let drift: boolean;
        if (e.op === 'del') drift = !this.isOwn(e.family === AF_BRIDGE ? `f|${e.mac ?? ''}|${e.ip ?? ''}` : `n|${e.ip ?? ''}`);
        else if (e.family === AF_INET) drift = e.permanent && e.ip !== undefined && wanted.neighbourMac.get(e.ip) !== e.mac;
        else drift = e.family === AF_BRIDGE && e.mac !== undefined && wanted.fdbDst.get(e.mac) !== e.ip;
        return { drift, device: false };
      }
      case 'route':
        if (e.oif !== dev.index || e.table !== RT_TABLE_MAIN) return { drift: false, device: false };
        return { drift: e.op === 'del' ? !this.isOwn(`r|${e.dst}`) : !wanted.peers.has(e.dst), device: false };
    }
  }

  private isOwn(key: string): boolean {
    const until = this.ownDeletes.get(key);
    if (until === undefined) return false;
    this.ownDeletes.delete(key);
    return until >= this.now();
  }
}
