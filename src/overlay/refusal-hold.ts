/**
 * What the kernel refused, held back per entry (retry-backoff.ts): a refused peer or removal is left
 * out of the plans until its delay expires, then retried on its own, never on every event or
 * resync, so a kernel that keeps saying no never turns into a write loop.
 */
import type { ReconcilerClock } from '../agent/reconciler.js';
import type { ApplyFailure, ApplyResult } from './apply.js';
import type { DesiredEntry } from './desired-peers.js';
import type { PeerIntake } from './peer-intake.js';
import { peerKey, removalKey, restrictPlan, type Plan } from './plan.js';
import { RetryBackoff } from './retry-backoff.js';

export class RefusalHold {
  readonly backoff: RetryBackoff;
  private timer: unknown;

  constructor(
    private readonly clock: ReconcilerClock,
    private readonly intake: PeerIntake,
    /** Delays expired: retry these peers (and, when `full`, removals, which only a full pass plans). */
    private readonly onDue: (peers: DesiredEntry[], full: boolean) => void,
  ) {
    this.backoff = new RetryBackoff(() => clock.now());
  }

  /** Peers currently desired and not held back. */
  programmedCount(): number {
    const desired = this.intake.desired.peers;
    if (this.backoff.size === 0) return desired.size;
    let failed = 0;
    for (const p of desired.values()) if (this.backoff.has(peerKey(p))) failed += 1;
    return desired.size - failed;
  }

  /** The plan without removals while a source holds, and without what is held back. */
  restrict(base: Plan, full: boolean): Plan {
    // Nothing held back (the usual case): no key is built for thousands of peers.
    const holdsAny = this.backoff.size > 0;
    const desired = this.intake.desired;
    if (full && holdsAny) {
      const wanted = new Set([...base.removals.map(removalKey), ...[...desired.peers.values()].map(peerKey)]);
      this.backoff.retain((key) => wanted.has(key));
    }
    if (!holdsAny && !this.intake.holding) return base;
    return restrictPlan(base, {
      keepAll: this.intake.holding,
      heldPeer: (subnet) => {
        const p = holdsAny ? desired.peers.get(subnet) : undefined;
        return p !== undefined && this.backoff.held(peerKey(p));
      },
      heldRemoval: (op) => holdsAny && this.backoff.held(removalKey(op)),
    });
  }

  /** After an apply: refusals held, successes released, the next wake-up armed; returns the refusals. */
  note(todo: Plan, result: ApplyResult | undefined): readonly ApplyFailure[] {
    const desired = this.intake.desired.peers;
    if (this.backoff.size > 0) {
      const failedRemovals = new Set((result?.failures ?? []).flatMap((f) => (f.op === undefined ? [] : [removalKey(f.op)])));
      for (const op of todo.removals) if (!failedRemovals.has(removalKey(op))) this.backoff.succeeded(removalKey(op));
      for (const p of todo.peers) {
        const d = desired.get(p.subnet);
        if (d !== undefined && !result?.failedSubnets.has(p.subnet)) this.backoff.succeeded(peerKey(d));
      }
    }
    const failures = result?.failures ?? [];
    for (const f of failures) {
      const d = f.subnet === undefined ? undefined : desired.get(f.subnet);
      if (d !== undefined) this.backoff.failed(peerKey(d), f.message);
      else if (f.op !== undefined) this.backoff.failed(removalKey(f.op), f.message);
    }
    this.arm();
    return failures;
  }

  /** The operator changed something: everything held gets a fresh try. */
  clear(): void {
    this.backoff.clear();
    this.disarm();
  }

  disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Wakes up when the earliest held entry may be tried again. */
  private arm(): void {
    this.disarm();
    const inMs = this.backoff.nextInMs();
    if (inMs === undefined) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      const due = new Set(this.backoff.due());
      if (due.size === 0) return this.arm();
      const peers = [...this.intake.desired.peers.values()].filter((p) => due.has(peerKey(p)));
      this.onDue(peers, peers.length < due.size);
    }, inMs + 1);
  }
}
