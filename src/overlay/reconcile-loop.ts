/**
 * The overlay's reconcile passes on the shared reconciler (agent/reconciler.ts: one pass at a time,
 * merged requests, kernel events debounced, a failed pass retried with backoff, periodic resync). A
 * full pass dumps the device's neighbours and FDB entries, the main table and the host's addresses,
 * refreshes the gate's facts, plans everything and applies the difference; a peer update plans only
 * the changed subnets against the cached kernel state. What the kernel refused is held back per
 * entry (retry-backoff.ts) and retried when its delay expires, never on every event; while a remote
 * source has not listed yet, nothing is removed.
 */
import { performance } from 'node:perf_hooks';
import type { ControllerContext } from '../agent/controller.js';
import { Reconciler, systemClock, type PassRecord, type PassResult, type ReconcilerClock, type ReconcilerReport } from '../agent/reconciler.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import type { KernelEvent } from '../netlink/event-types.js';
import type { Link } from '../netlink/links.js';
import { RT_TABLE_MAIN } from '../netlink/routes.js';
import { applyPlan, type ApplyFailure, type ApplyResult } from './apply.js';
import type { PeerChange } from './desired-peers.js';
import { DriftFilter } from './drift-filter.js';
import { hostFacts } from './host-facts.js';
import type { KernelEvents, OverlayKernel } from './kernel.js';
import type { OverlayMetrics } from './metrics.js';
import { ObservedCache } from './observed-cache.js';
import type { PeerIntake } from './peer-intake.js';
import { peerKey, plan, planChanges, planSize, type DesiredPeer, type Observed } from './plan.js';
import { RefusalHold } from './refusal-hold.js';

export type Trigger = 'start' | 'peers' | 'event' | 'resync' | 'reload' | 'monitor' | 'retry';

export interface Request {
  full: boolean;
  device: boolean;
  trigger: Trigger;
}

export interface LoopHost {
  kernel: OverlayKernel;
  link(): Link | undefined;
  /** Checks the device; true when it was re-created (everything must be replayed). */
  ensureDevice(): Promise<boolean>;
  events(): KernelEvents | undefined;
  own(): { subnet?: string; mac?: string };
  initialized(): boolean;
}

export interface LoopTiming {
  clock?: ReconcilerClock;
  /** Jitter source of the pass retry. */
  random?: () => number;
}

const [EVENT_DEBOUNCE_MS, MUTE_ABOVE] = [20, 256];
/** A failed pass (the dump or the device, not single entries) is retried from 2 s, doubling to a minute. */
const PASS_RETRY = { initialMs: 2000, maxMs: 60_000, jitter: 0.2 };
const FULL_RESYNC: Request = { full: true, device: true, trigger: 'resync' };

/** Two requests as one pass: the weightiest reason names it (drift repairs count for event/resync ones). */
export function mergeRequests(a: Request, b: Request): Request {
  return { full: a.full || b.full, device: a.device || b.device, trigger: b.trigger !== 'peers' && b.trigger !== 'retry' ? b.trigger : a.trigger };
}

export class ReconcileLoop {
  readonly cache = new ObservedCache();
  /** Entries the kernel refused, held back with backoff. */
  readonly refused: RefusalHold;
  private readonly clock: ReconcilerClock;
  private readonly driftFilter: DriftFilter;
  private readonly reconciler: Reconciler<Request>;
  /** Peer changes not yet planned (by subnet: first `before`, last `after`). */
  private changes = new Map<string, PeerChange>();
  lastResync: { at: string; ms: number; writes: number; trigger: Trigger } | undefined;
  driftRepairs = 0;
  errors = 0;
  lastError: { message: string; at: string } | undefined;

  constructor(
    private readonly host: LoopHost,
    private readonly intake: PeerIntake,
    private readonly ctx: ControllerContext,
    private readonly metrics: OverlayMetrics,
    timing: LoopTiming = {},
  ) {
    this.clock = timing.clock ?? systemClock;
    this.driftFilter = new DriftFilter(() => this.clock.now());
    this.refused = new RefusalHold(this.clock, intake, (peers, full) => {
      this.queue(peers.map((p) => ({ subnet: p.subnet, after: p })));
      void this.request({ full, device: false, trigger: 'retry' });
    });
    this.reconciler = new Reconciler<Request>({
      run: (req) => this.pass(req),
      merge: mergeRequests,
      // Before the first pass succeeded, start() reports the failure; afterwards a failed pass (and the
      // peer changes it carried) is not left to the periodic resync.
      retryRequest: () => (this.host.initialized() ? FULL_RESYNC : undefined),
      resync: { everyMs: 0, request: () => FULL_RESYNC },
      debounceMs: EVENT_DEBOUNCE_MS,
      backoff: PASS_RETRY,
      clock: this.clock,
      ...(timing.random === undefined ? {} : { random: timing.random }),
      onPass: (record) => this.onPass(record),
    });
  }

  start(): void {
    this.reconciler.start();
  }

  async stop(): Promise<void> {
    this.refused.disarm();
    await this.reconciler.stop();
  }

  /** The periodic full resync, every `ms` from the next pass on. */
  setResync(ms: number): void {
    this.reconciler.setResync(ms);
  }

  /** Resolves when no pass is running or queued. */
  settled(): Promise<void> {
    return this.reconciler.settled();
  }

  /** Queues a pass; resolves when the pass that carried it has finished. */
  request(req: Request): Promise<PassResult> {
    return this.reconciler.request(req);
  }

  get lastPassOk(): boolean {
    return this.reconciler.lastOk === true;
  }

  report(): ReconcilerReport {
    return this.reconciler.report();
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
    return this.lastPassOk ? this.refused.programmedCount() : 0;
  }

  /** Why a desired peer is not in the kernel, or undefined when it is (for /status). */
  notProgrammed(p: DesiredPeer): string | undefined {
    if (!this.lastPassOk) return this.lastError === undefined ? 'no reconcile pass yet' : `last reconcile failed: ${this.lastError.message}`;
    const held = this.refused.backoff.entry(peerKey(p));
    return held === undefined ? undefined : `kernel refused (${held.attempts} attempts): ${held.lastError}`;
  }

  /** Turns kernel changes that concern us (and are not ours) into a debounced pass; a burst (a flushed device) becomes one. */
  onKernelEvent(e: KernelEvent): void {
    const link = this.host.link();
    if (link === undefined) return;
    const { drift, device } = this.driftFilter.classify(e, link, this.intake.desired);
    if (drift || device) this.reconciler.requestSoon({ full: true, device, trigger: 'event' });
  }

  private async pass(req: Request): Promise<void> {
    const started = performance.now();
    let full = req.full;
    if (req.device || this.host.link() === undefined) {
      // A re-created device lost every neighbour, FDB entry and route: replay all peers.
      if (await this.host.ensureDevice()) {
        this.cache.clear();
        full = true;
      }
    }
    const link = this.host.link();
    if (link === undefined) throw new AgentError(ErrorCode.NetlinkFailed, 'no device');
    if (full) await this.observe(link);
    // Taken right before planning: a full plan covers what was queued during its dump (left queued,
    // such an addition would merge with its own removal into nothing, and the route would stay).
    const changes = [...this.changes.values()];
    this.changes.clear();
    const desired = this.intake.desired;
    // A full pass plans everything; a peer update only the subnets that changed.
    const base = full ? plan(desired.peers.values(), this.cache.view) : planChanges(changes, desired, this.cache.view);
    const todo = this.refused.restrict(base, full);
    this.driftFilter.expect(todo.removals);
    const size = planSize(todo);
    // Bulk writes: the monitor need not echo thousands of our own writes back to us (drift in
    // that window is found by the next resync).
    const mute = size > MUTE_ABOVE;
    const events = this.host.events();
    if (mute) events?.mute(true);
    let result: ApplyResult | undefined;
    try {
      const dev = { index: link.index, name: link.name };
      result = size === 0 ? undefined : await applyPlan((ops) => this.host.kernel.write(dev, ops), todo, this.cache, (undo) => this.driftFilter.expect(undo));
    } finally {
      if (mute) events?.mute(false);
    }
    const writes = result?.writes ?? 0;
    this.noteRefusals(this.refused.note(todo, result));
    this.metrics.writes.inc(writes);
    if (this.host.initialized() && (req.trigger === 'event' || req.trigger === 'resync' || req.trigger === 'monitor')) {
      this.driftRepairs += writes;
      this.metrics.driftRepairs.inc(writes);
      if (writes > 0) this.ctx.log.warn({ trigger: req.trigger, writes }, 'drift repaired');
    }
    const ms = performance.now() - started;
    if (full) {
      this.lastResync = { at: new Date(this.clock.now()).toISOString(), ms: Math.round(ms * 10) / 10, writes, trigger: req.trigger };
      this.metrics.lastResync.set(this.clock.now() / 1000);
    }
    this.metrics.reconciles.inc({ trigger: req.trigger });
    this.metrics.reconcileSeconds.observe(ms / 1000);
  }

  /** After each pass: gauges, and a failed pass counted, reported and logged. */
  private onPass(record: PassRecord<Request>): void {
    this.metrics.peersDesired.set(this.intake.desired.peers.size);
    this.metrics.peersProgrammed.set(this.programmedCount());
    if (record.ok) return;
    this.errors += 1;
    this.metrics.errors.inc();
    this.lastError = { message: errorMessage(record.error), at: new Date(record.at).toISOString() };
    if (this.host.initialized()) this.ctx.reportError(record.error);
    else this.ctx.log.error({ err: record.error }, 'overlay reconcile failed');
  }

  private noteRefusals(failures: readonly ApplyFailure[]): void {
    this.metrics.retrying.set(this.refused.backoff.size);
    if (failures.length === 0) return;
    this.errors += failures.length;
    this.metrics.errors.inc(failures.length);
    this.lastError = { message: failures[0]?.message ?? '', at: new Date(this.clock.now()).toISOString() };
    this.ctx.log.error({ failures: failures.slice(0, 5), count: failures.length, retryInMs: this.refused.backoff.nextInMs() }, 'the kernel refused some overlay entries; retrying them with backoff');
  }

  private async observe(link: Link): Promise<void> {
    const { kernel } = this.host;
    const dev = { index: link.index, name: link.name };
    const neighbours = await kernel.listNeighbours(dev);
    const fdb = await kernel.listFdb(dev);
    const routes = await kernel.listRoutes();
    const addresses = await kernel.listAddresses();
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
