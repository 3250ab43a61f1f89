/**
 * The overlay's reconcile passes, one at a time; requests made meanwhile merge into the next
 * pass. A full pass dumps the device's neighbours and FDB entries, the main table and the host's
 * addresses, refreshes the gate's facts, plans everything and applies the difference; a peer
 * update plans only the changed subnets against the cached kernel state. What the kernel refused
 * is held back with backoff (retry-backoff.ts) and retried when its delay expires, never on every
 * event; while a remote source has not listed yet, nothing is removed.
 */
import { performance } from 'node:perf_hooks';
import type { ControllerContext } from '../agent/controller.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { listAddresses } from '../netlink/addresses.js';
import type { KernelEvent } from '../netlink/event-types.js';
import type { NetlinkEvents } from '../netlink/events.js';
import type { Link } from '../netlink/links.js';
import { listFdb, listNeighbours } from '../netlink/neighbours.js';
import { RT_TABLE_MAIN, listRoutes } from '../netlink/routes.js';
import type { RtSocket } from '../netlink/socket.js';
import { applyPlan } from './apply.js';
import type { PeerChange } from './desired-peers.js';
import { DriftFilter } from './drift-filter.js';
import { hostFacts } from './host-facts.js';
import type { OverlayMetrics } from './metrics.js';
import { ObservedCache } from './observed-cache.js';
import type { PeerIntake } from './peer-intake.js';
import { peerKey, plan, planChanges, planSize, removalKey, restrictPlan, type DesiredPeer, type Observed } from './plan.js';
import { RetryBackoff } from './retry-backoff.js';

export type Trigger = 'start' | 'peers' | 'event' | 'resync' | 'reload' | 'monitor' | 'retry';

export interface Request {
  full: boolean;
  device: boolean;
  trigger: Trigger;
}

export interface LoopHost {
  socket(): RtSocket;
  link(): Link | undefined;
  /** Checks the device; true when it was re-created (everything must be replayed). */
  ensureDevice(): Promise<boolean>;
  events(): NetlinkEvents | undefined;
  own(): { subnet?: string; mac?: string };
  initialized(): boolean;
}

const [EVENT_DEBOUNCE_MS, MUTE_ABOVE, RETRY_MS] = [20, 256, 2000];

export class ReconcileLoop {
  readonly cache = new ObservedCache();
  readonly backoff = new RetryBackoff();
  private readonly driftFilter = new DriftFilter();
  /** Peer changes not yet planned (by subnet: first `before`, last `after`). */
  private changes = new Map<string, PeerChange>();
  private pending: Request | undefined;
  private loop: Promise<void> | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private eventWants = { full: false, device: false };
  private retry: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  lastPassOk = false;
  lastResync: { at: string; ms: number; writes: number; trigger: Trigger } | undefined;
  driftRepairs = 0;
  errors = 0;
  lastError: { message: string; at: string } | undefined;

  constructor(
    private readonly host: LoopHost,
    private readonly intake: PeerIntake,
    private readonly ctx: ControllerContext,
    private readonly metrics: OverlayMetrics,
  ) {}

  start(): void {
    this.stopping = false;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.debounce);
    clearTimeout(this.retry);
    clearTimeout(this.backoffTimer);
    await this.loop;
  }

  /** Resolves when every queued pass has finished. */
  settled(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** Peer changes for the next pass (merged per subnet). */
  queue(changes: readonly PeerChange[]): void {
    for (const c of changes) {
      const queued = this.changes.get(c.subnet);
      const before = queued === undefined ? c.before : queued.before;
      this.changes.set(c.subnet, { subnet: c.subnet, ...(before === undefined ? {} : { before }), ...(c.after === undefined ? {} : { after: c.after }) });
    }
  }

  /** Peers currently desired and not held back after a kernel refusal. */
  programmedCount(): number {
    if (!this.lastPassOk) return 0;
    if (this.backoff.size === 0) return this.intake.desired.peers.size;
    let failed = 0;
    for (const p of this.intake.desired.peers.values()) if (this.backoff.has(peerKey(p))) failed += 1;
    return this.intake.desired.peers.size - failed;
  }

  /** Why a desired peer is not in the kernel, or undefined when it is (for /status). */
  notProgrammed(p: DesiredPeer): string | undefined {
    if (!this.lastPassOk) return this.lastError === undefined ? 'no reconcile pass yet' : `last reconcile failed: ${this.lastError.message}`;
    const held = this.backoff.entry(peerKey(p));
    return held === undefined ? undefined : `kernel refused (${held.attempts} attempts): ${held.lastError}`;
  }

  /** Queues a pass; resolves when the queue has drained. */
  request(req: Request): Promise<void> {
    if (this.pending === undefined) this.pending = { ...req };
    else {
      this.pending.full ||= req.full;
      this.pending.device ||= req.device;
      // The weightiest reason names the pass (drift repairs are counted for event/resync ones).
      if (req.trigger !== 'peers' && req.trigger !== 'retry') this.pending.trigger = req.trigger;
    }
    this.loop ??= this.drain();
    return this.loop;
  }

  /** Turns kernel changes that concern us (and are not ours) into a debounced pass. */
  onKernelEvent(e: KernelEvent): void {
    const link = this.host.link();
    if (link === undefined || this.stopping) return;
    const { drift, device } = this.driftFilter.classify(e, link, this.intake.desired);
    if (!drift && !device) return;
    this.eventWants.full ||= drift || device;
    this.eventWants.device ||= device;
    // A burst (a flushed device) becomes one pass.
    this.debounce ??= setTimeout(() => {
      this.debounce = undefined;
      const wants = this.eventWants;
      this.eventWants = { full: false, device: false };
      void this.request({ ...wants, trigger: 'event' });
    }, EVENT_DEBOUNCE_MS);
  }

  private async drain(): Promise<void> {
    // Never finish synchronously: `this.loop` is assigned after this returns.
    await Promise.resolve();
    try {
      while (this.pending !== undefined && !this.stopping) {
        const req = this.pending;
        this.pending = undefined;
        await this.pass(req);
      }
    } finally {
      this.loop = undefined;
    }
  }

  private async pass(req: Request): Promise<void> {
    const started = performance.now();
    const s = this.host.socket();
    try {
      if (req.device || this.host.link() === undefined) {
        // A re-created device lost every neighbour, FDB entry and route: replay all peers.
        if (await this.host.ensureDevice()) {
          this.cache.clear();
          req.full = true;
        }
      }
      const link = this.host.link();
      if (link === undefined) throw new AgentError(ErrorCode.NetlinkFailed, 'no device');
      if (req.full) await this.observe(s, link);
      // Taken right before planning: a full plan covers what was queued during its dump (left queued,
      // such an addition would merge with its own removal into nothing, and the route would stay).
      const changes = [...this.changes.values()];
      this.changes.clear();
      const desired = this.intake.desired;
      // A full pass plans everything; a peer update only the subnets that changed.
      const base = req.full ? plan(desired.peers.values(), this.cache.view) : planChanges(changes, desired, this.cache.view);
      // Nothing held back (the usual case): no key is built for thousands of peers.
      const holdsAny = this.backoff.size > 0;
      if (req.full && holdsAny) {
        const wanted = new Set([...base.removals.map(removalKey), ...[...desired.peers.values()].map(peerKey)]);
        this.backoff.retain((key) => wanted.has(key));
      }
      const todo = restrictPlan(base, {
        keepAll: this.intake.holding,
        heldPeer: (subnet) => {
          const p = holdsAny ? desired.peers.get(subnet) : undefined;
          return p !== undefined && this.backoff.held(peerKey(p));
        },
        heldRemoval: (op) => holdsAny && this.backoff.held(removalKey(op)),
      });
      this.driftFilter.expect(todo.removals);
      const size = planSize(todo);
      // Bulk writes: the monitor need not echo thousands of our own writes back to us (drift in
      // that window is found by the next resync).
      const mute = size > MUTE_ABOVE;
      const events = this.host.events();
      if (mute) events?.mute(true);
      let result;
      try {
        result = size === 0 ? undefined : await applyPlan(s, { index: link.index, name: link.name }, todo, this.cache, (undo) => this.driftFilter.expect(undo));
      } finally {
        if (mute) events?.mute(false);
      }
      const writes = result?.writes ?? 0;
      this.noteOutcome(todo, result);
      this.metrics.writes.inc(writes);
      if (this.host.initialized() && (req.trigger === 'event' || req.trigger === 'resync' || req.trigger === 'monitor')) {
        this.driftRepairs += writes;
        this.metrics.driftRepairs.inc(writes);
        if (writes > 0) this.ctx.log.warn({ trigger: req.trigger, writes }, 'drift repaired');
      }
      const ms = performance.now() - started;
      if (req.full) {
        this.lastResync = { at: new Date().toISOString(), ms: Math.round(ms * 10) / 10, writes, trigger: req.trigger };
        this.metrics.lastResync.set(Date.now() / 1000);
      }
      this.metrics.reconciles.inc({ trigger: req.trigger });
      this.metrics.reconcileSeconds.observe(ms / 1000);
      this.lastPassOk = true;
      this.metrics.peersDesired.set(desired.peers.size);
      this.metrics.peersProgrammed.set(this.programmedCount());
    } catch (err) {
      this.lastPassOk = false;
      this.errors += 1;
      this.metrics.errors.inc();
      this.lastError = { message: errorMessage(err), at: new Date().toISOString() };
      if (this.host.initialized()) {
        this.ctx.reportError(err);
        // Do not leave a failed pass (and the peer changes it carried) to the periodic resync.
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          if (!this.stopping) void this.request({ full: true, device: true, trigger: 'resync' });
        }, RETRY_MS);
      } else {
        this.ctx.log.error({ err }, 'overlay reconcile failed');
      }
    }
  }

  /** Backoff bookkeeping after an apply: refusals held, successes released, the next retry armed. */
  private noteOutcome(todo: ReturnType<typeof restrictPlan>, result: Awaited<ReturnType<typeof applyPlan>> | undefined): void {
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
    if (failures.length > 0) {
      this.errors += failures.length;
      this.metrics.errors.inc(failures.length);
      this.lastError = { message: failures[0]?.message ?? '', at: new Date().toISOString() };
      this.ctx.log.error({ failures: failures.slice(0, 5), count: failures.length, retryInMs: this.backoff.nextInMs() }, 'the kernel refused some overlay entries; retrying them with backoff');
    }
    this.metrics.retrying.set(this.backoff.size);
    this.armBackoff();
  }

  /** Wakes up when the earliest held entry may be tried again. */
  private armBackoff(): void {
    clearTimeout(this.backoffTimer);
    const inMs = this.backoff.nextInMs();
    if (inMs === undefined || this.stopping) return;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      const due = new Set(this.backoff.due());
      if (due.size === 0) return this.armBackoff();
      const peers = [...this.intake.desired.peers.values()].filter((p) => due.has(peerKey(p)));
      this.queue(peers.map((p) => ({ subnet: p.subnet, after: p })));
      // A removal is planned only by a full pass; a peer by its change alone.
      void this.request({ full: peers.length < due.size, device: false, trigger: 'retry' });
    }, inMs + 1);
    this.backoffTimer.unref();
  }

  private async observe(s: RtSocket, link: Link): Promise<void> {
    const dev = { index: link.index, name: link.name };
    const neighbours = await listNeighbours(s, dev);
    const fdb = await listFdb(s, dev);
    const routes = await listRoutes(s);
    const addresses = await listAddresses(s);
    const ours: Observed['routes'] = routes
      .filter((r) => r.oif === link.index && !r.kernel && r.table === RT_TABLE_MAIN)
      .map((r) => ({ dst: r.dst, onlink: r.onlink, protocol: r.protocol, ...(r.gateway === undefined ? {} : { gateway: r.gateway }) }));
    this.cache.replace({ neighbours, fdb, routes: ours });
    const own = this.host.own();
    const { network: _network, ...host } = hostFacts({ addresses, routes, overlayIndexes: [link.index] }, { ownSubnet: own.subnet, ownMAC: own.mac });
    // The facts may refuse (or admit) peers: a full pass plans the resulting set anyway.
    this.intake.setHost(host);
  }
}
