/**
 * The overlay controller: sets up the VXLAN device, merges the peer sources and keeps the kernel
 * converged to the merged set. Reconcile passes run one at a time; requests made meanwhile are
 * merged into the next pass. Triggers: a peer change (planned against the cached kernel state,
 * no dump), a netlink event on our device (debounced; full dump, device repaired and all peers
 * replayed if it was re-created), the periodic `overlay.resync`, and a restart of the event
 * monitor (events may have been lost). Only objects on our device are ever touched.
 */
import { performance } from 'node:perf_hooks';
import type { Controller, ControllerContext, Readiness } from '../agent/controller.js';
import type { Config, OverlayConfig } from '../config/schema.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { listAddresses } from '../netlink/addresses.js';
import type { KernelEvent } from '../netlink/event-types.js';
import { NetlinkEvents, monitorScript } from '../netlink/events.js';
import { deleteLink, getLinkByName, listLinks, type Link } from '../netlink/links.js';
import { listFdb, listNeighbours } from '../netlink/neighbours.js';
import { RT_TABLE_MAIN, listRoutes } from '../netlink/routes.js';
import { RtSocket } from '../netlink/socket.js';
import { applyPlan } from './apply.js';
import { DriftFilter } from './drift-filter.js';
import { createOverlayMetrics, type OverlayMetrics } from './metrics.js';
import { ObservedCache } from './observed-cache.js';
import { PeerSet, type PeerChange } from './peer-merge.js';
import type { Peer, PeerSource } from './peer-source.js';
import { buildPeerSources, ownSubnetAcquirer, type SourceContext } from './peer-sources.js';
import { plan, planChanges, planSize, type Observed } from './plan.js';
import { parseSubnet, type Subnet } from './subnet.js';
import { resolveUnderlay, type Underlay } from './underlay.js';
import { loadOrCreateMac } from './vtep-mac.js';
import { ensureDevice, type DeviceSpec } from './vxlan-device.js';

type Trigger = 'start' | 'peers' | 'event' | 'resync' | 'reload' | 'monitor';

interface Request {
  full: boolean;
  device: boolean;
  trigger: Trigger;
}

export interface OverlayDeps {
  buildSources?: typeof buildPeerSources;
  acquirer?: typeof ownSubnetAcquirer;
}

const EVENT_DEBOUNCE_MS = 20;
const MUTE_ABOVE = 256;
const RETRY_MS = 2000;

export function deviceName(config: OverlayConfig): string {
  return config.device !== '' ? config.device : `flannel.${config.vni}`;
}

export class OverlayController implements Controller {
  readonly name = 'overlay' as const;
  private config: OverlayConfig;
  private stateDir: string;
  private readonly ctx: ControllerContext;
  private readonly deps: Required<OverlayDeps>;
  private readonly metrics: OverlayMetrics;
  private sock: RtSocket | undefined;
  private events: NetlinkEvents | undefined;
  private spec: DeviceSpec | undefined;
  private link: Link | undefined;
  private underlay: Underlay | undefined;
  private own: Subnet | undefined;
  private sources: PeerSource[] = [];
  private readonly sourceCounts = new Map<string, number>();
  private peerSet = new PeerSet([], undefined);
  /** Peer changes not yet planned (by subnet: first `before`, last `after`). */
  private changes = new Map<string, PeerChange>();
  private lastConflictCount = 0;
  private readonly cache = new ObservedCache();
  private readonly failed = new Set<string>();
  private pending: Request | undefined;
  private loop: Promise<void> | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private eventWants = { full: false, device: false };
  private readonly driftFilter = new DriftFilter();
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopping = false;
  private initialized = false;
  private lastPassOk = false;
  private lastResync: { at: string; ms: number; writes: number; trigger: Trigger } | undefined;
  private driftRepairs = 0;
  private errors = 0;
  private lastError: { message: string; at: string } | undefined;
  private deviceActions: string[] = [];
  /** Work sources and acquirers deferred to stop (lease renewers). */
  private readonly cleanups: (() => Promise<void>)[] = [];

  constructor(config: Config, ctx: ControllerContext, deps: OverlayDeps = {}) {
    this.config = config.overlay;
    this.stateDir = config.stateDir;
    this.ctx = ctx;
    this.deps = { buildSources: deps.buildSources ?? buildPeerSources, acquirer: deps.acquirer ?? ownSubnetAcquirer };
    this.metrics = createOverlayMetrics(ctx.metrics);
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.sock = new RtSocket();
    try {
      await this.startInner();
    } catch (err) {
      // A failed start leaves no monitor process or socket behind.
      await this.stop();
      throw err;
    }
  }

  private async startInner(): Promise<void> {
    await this.setupDevice();
    const events = new NetlinkEvents();
    this.events = events;
    events.on('event', (e) => this.onKernelEvent(e));
    events.on('lost', (why) => this.ctx.log.warn({ why }, 'netlink event monitor lost; resyncing when it is back'));
    events.on('ready', () => {
      if (this.initialized) void this.request({ full: true, device: true, trigger: 'monitor' });
    });
    if (!events.start()) {
      this.ctx.log.error({ script: monitorScript() }, 'netlink event monitor script missing from this build; drift is repaired only by the periodic resync');
    } else if (!(await events.waitReady(10_000))) {
      this.ctx.log.warn('netlink event monitor not ready yet; periodic resync covers drift until it is');
    }
    await this.startSources();
    await this.request({ full: true, device: false, trigger: 'start' });
    if (!this.lastPassOk) throw new AgentError(ErrorCode.NetlinkFailed, `overlay: first reconcile failed: ${this.lastError?.message ?? 'unknown error'}`);
    this.initialized = true;
    this.armTimer();
  }

  async reload(config: Config): Promise<void> {
    const prev = this.config;
    this.config = config.overlay;
    this.stateDir = config.stateDir;
    const deviceKeys = (c: OverlayConfig): string => JSON.stringify([c.vni, c.port, c.device, c.underlay, c.mtu, c.subnet, c.network]);
    const deviceChanged = deviceKeys(prev) !== deviceKeys(this.config);
    if (deviceChanged) {
      const oldName = deviceName(prev);
      if (oldName !== deviceName(this.config) && this.sock !== undefined) {
        const old = await getLinkByName(this.sock, oldName);
        if (old !== undefined) await deleteLink(this.sock, old);
      }
      await this.setupDevice();
      this.cache.clear();
    }
    await this.stopSources();
    await this.startSources();
    this.armTimer();
    await this.request({ full: true, device: deviceChanged, trigger: 'reload' });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.debounce);
    clearInterval(this.timer);
    clearTimeout(this.retry);
    this.events?.stop();
    await this.stopSources();
    await this.loop;
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        this.ctx.log.warn({ err }, 'overlay cleanup failed');
      }
    }
    this.sock?.close();
    this.sock = undefined;
  }

  /** Resolves when every queued reconcile pass has finished (tests, benchmarks). */
  settled(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** A full resync now (dump, plan, apply), as the periodic timer does. */
  resyncNow(): Promise<void> {
    return this.request({ full: true, device: true, trigger: 'resync' });
  }

  status(): Record<string, unknown> {
    return {
      device:
        this.spec === undefined
          ? null
          : {
              name: this.spec.name,
              index: this.link?.index,
              up: this.link?.up,
              vni: this.spec.vni,
              port: this.spec.port,
              mtu: this.spec.mtu,
              mac: this.spec.mac,
              vtep: this.spec.vtep,
              subnet: this.own?.cidr,
              underlay: this.underlay === undefined ? undefined : { name: this.underlay.name, address: this.underlay.address, mtu: this.underlay.mtu },
              lastActions: this.deviceActions,
            },
      peers: { desired: this.peerSet.peers.size, programmed: this.programmedCount(), failed: [...this.failed].slice(0, 20) },
      conflicts: this.peerSet.conflicts.slice(0, 50),
      sources: Object.fromEntries(this.sources.map((s) => [s.name, { peers: this.sourceCounts.get(s.name) ?? 0, ...s.status() }])),
      lastResync: this.lastResync ?? null,
      driftRepairs: this.driftRepairs,
      eventMonitor: { running: this.events?.running ?? false, restarts: this.events?.restarts ?? 0 },
      reconcileErrors: this.errors,
      lastReconcileError: this.lastError ?? null,
    };
  }

  ready(): Readiness {
    if (!this.initialized) return { ready: false, reason: 'starting' };
    if (!this.lastPassOk) return { ready: false, reason: `last reconcile failed: ${this.lastError?.message ?? ''}` };
    const notReady = this.sources.find((s) => !s.ready().ready);
    if (notReady !== undefined) return { ready: false, reason: `peer source ${notReady.name}: ${notReady.ready().reason ?? 'not ready'}` };
    return { ready: true, reason: `${this.programmedCount()}/${this.peerSet.peers.size} peers programmed` };
  }

  private sourceContext(): SourceContext {
    return { log: this.ctx.log, stateDir: this.stateDir, metrics: this.ctx.metrics, defer: (cleanup) => this.cleanups.push(cleanup) };
  }

  /** Underlay, MAC, own subnet (one async step a registry can replace), then the device. */
  private async setupDevice(): Promise<void> {
    const s = this.socket();
    const [links, addresses, routes] = [await listLinks(s), await listAddresses(s), await listRoutes(s)];
    this.underlay = resolveUnderlay(this.config.underlay, links, addresses, routes);
    const name = deviceName(this.config);
    const existing = links.find((l) => l.name === name);
    const { mac, created } = await loadOrCreateMac(this.stateDir, name, existing?.kind === 'vxlan' ? existing.mac : undefined);
    if (created) this.ctx.log.info({ mac, device: name }, 'VTEP MAC stored');
    const subnetText = await this.deps.acquirer(this.config, this.sourceContext())({ publicIP: this.underlay.address, vtepMAC: mac });
    const own = parseSubnet(subnetText);
    if (own === undefined) throw new AgentError(ErrorCode.ConfigInvalid, `overlay.subnet: "${subnetText}" is not an IPv4 CIDR`);
    this.own = own;
    this.peerSet.setOwn(own);
    const mtu = this.config.mtu > 0 ? this.config.mtu : this.underlay.mtu - 50;
    this.spec = { name, vni: this.config.vni, port: this.config.port, local: this.underlay.address, underlayIndex: this.underlay.index, mtu, mac, vtep: own.network };
    await this.ensure();
  }

  private async ensure(): Promise<boolean> {
    if (this.spec === undefined) throw new Error('device spec missing');
    const before = this.link?.index;
    const result = await ensureDevice(this.socket(), this.spec);
    this.link = result.link;
    if (result.actions.length > 0) {
      this.deviceActions = result.actions;
      this.ctx.log.info({ device: this.spec.name, actions: result.actions }, 'VXLAN device set up');
    }
    return before !== undefined && before !== result.link.index;
  }

  private async startSources(): Promise<void> {
    this.sources = this.deps.buildSources(this.config, this.sourceContext());
    const order = this.sources.map((s) => s.name);
    // A fresh set keeps the chosen peers of the old one first in line (no flap on reload).
    const previous = this.peerSet;
    this.peerSet = new PeerSet(order, this.own, previous.peers);
    this.sourceCounts.clear();
    for (const source of this.sources) {
      await source.start((peers) => this.onPeers(source.name, peers));
    }
  }

  private onPeers(source: string, peers: readonly Peer[]): void {
    if (this.stopping) return;
    this.sourceCounts.set(source, peers.length);
    const changes = this.peerSet.setSource(source, peers);
    for (const c of changes) {
      const queued = this.changes.get(c.subnet);
      const before = queued === undefined ? c.before : queued.before;
      this.changes.set(c.subnet, { subnet: c.subnet, ...(before === undefined ? {} : { before }), ...(c.after === undefined ? {} : { after: c.after }) });
    }
    for (const subnet of this.failed) if (!this.peerSet.peers.has(subnet)) this.failed.delete(subnet);
    this.metrics.peersDesired.set(this.peerSet.peers.size);
    const conflicts = this.peerSet.conflicts;
    this.metrics.conflicts.set(conflicts.length);
    if (conflicts.length > this.lastConflictCount) this.ctx.log.warn({ conflicts: conflicts.slice(0, 5), count: conflicts.length }, 'conflicting peers ignored');
    this.lastConflictCount = conflicts.length;
    if (this.initialized && changes.length > 0) void this.request({ full: false, device: false, trigger: 'peers' });
  }

  private async stopSources(): Promise<void> {
    const sources = this.sources;
    this.sources = [];
    for (const s of sources) {
      try {
        await s.stop();
      } catch (err) {
        this.ctx.log.warn({ err, source: s.name }, 'peer source did not stop cleanly');
      }
    }
  }

  private programmedCount(): number {
    if (!this.initialized && !this.lastPassOk) return 0;
    let failed = 0;
    for (const s of this.failed) if (this.peerSet.peers.has(s)) failed += 1;
    return this.lastPassOk ? this.peerSet.peers.size - failed : 0;
  }

  private armTimer(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.request({ full: true, device: true, trigger: 'resync' }), Math.max(this.config.resync, 1000));
    this.timer.unref();
  }

  /** Queues a pass; resolves when the queue has drained. */
  private request(req: Request): Promise<void> {
    if (this.pending === undefined) this.pending = { ...req };
    else {
      this.pending.full ||= req.full;
      this.pending.device ||= req.device;
      // The weightiest reason names the pass (drift repairs are counted for event/resync ones).
      if (req.trigger !== 'peers') this.pending.trigger = req.trigger;
    }
    this.loop ??= this.drain();
    return this.loop;
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
    const s = this.socket();
    try {
      if (req.device || this.link === undefined) {
        if (await this.ensure()) {
          // A re-created device lost every neighbour, FDB entry and route: replay all peers.
          this.cache.clear();
          req.full = true;
        }
      }
      const link = this.link;
      if (link === undefined) throw new Error('no device');
      const changes = [...this.changes.values()];
      this.changes.clear();
      if (req.full) this.cache.replace(await this.observe(s, link));
      // A full pass plans everything; a peer update only the subnets that changed.
      const todo = req.full ? plan(this.peerSet.peers.values(), this.cache.view) : planChanges(changes, this.peerSet, this.cache.view);
      this.driftFilter.expect(todo.removals);
      const size = planSize(todo);
      // Bulk writes: the monitor need not echo thousands of our own writes back to us (drift in
      // that window is found by the next resync).
      const mute = size > MUTE_ABOVE;
      if (mute) this.events?.mute(true);
      let result;
      try {
        result = size === 0 ? undefined : await applyPlan(s, { index: link.index, name: link.name }, todo, this.cache);
      } finally {
        if (mute) this.events?.mute(false);
      }
      const writes = result?.writes ?? 0;
      for (const p of todo.peers) if (!result?.failedSubnets.has(p.subnet)) this.failed.delete(p.subnet);
      for (const subnet of result?.failedSubnets ?? []) this.failed.add(subnet);
      this.metrics.writes.inc(writes);
      if (this.initialized && (req.trigger === 'event' || req.trigger === 'resync' || req.trigger === 'monitor')) {
        this.driftRepairs += writes;
        this.metrics.driftRepairs.inc(writes);
        if (writes > 0) this.ctx.log.warn({ trigger: req.trigger, writes }, 'drift repaired');
      }
      if (result !== undefined && result.failures.length > 0) {
        this.errors += result.failures.length;
        this.metrics.errors.inc(result.failures.length);
        this.lastError = { message: result.failures[0]?.message ?? '', at: new Date().toISOString() };
        this.ctx.log.error({ failures: result.failures.slice(0, 5), count: result.failures.length }, 'some overlay entries could not be programmed; retrying on the next resync');
      }
      const ms = performance.now() - started;
      if (req.full) {
        this.lastResync = { at: new Date().toISOString(), ms: Math.round(ms * 10) / 10, writes, trigger: req.trigger };
        this.metrics.lastResync.set(Date.now() / 1000);
      }
      this.metrics.reconciles.inc({ trigger: req.trigger });
      this.metrics.reconcileSeconds.observe(ms / 1000);
      this.metrics.peersProgrammed.set(this.programmedCount());
      this.lastPassOk = true;
    } catch (err) {
      this.lastPassOk = false;
      this.errors += 1;
      this.metrics.errors.inc();
      this.lastError = { message: errorMessage(err), at: new Date().toISOString() };
      if (this.initialized) {
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

  private async observe(s: RtSocket, link: Link): Promise<Observed> {
    const dev = { index: link.index, name: link.name };
    const neighbours = await listNeighbours(s, dev);
    const fdb = await listFdb(s, dev);
    const routes = (await listRoutes(s))
      .filter((r) => r.oif === link.index && !r.kernel && r.table === RT_TABLE_MAIN)
      .map((r) => ({ dst: r.dst, onlink: r.onlink, protocol: r.protocol, ...(r.gateway === undefined ? {} : { gateway: r.gateway }) }));
    return { neighbours, fdb, routes };
  }

  /** Turns kernel changes that concern us (and are not ours) into a debounced pass. */
  private onKernelEvent(e: KernelEvent): void {
    const link = this.link;
    if (link === undefined || this.stopping) return;
    const { drift, device } = this.driftFilter.classify(e, link, this.peerSet);
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

  private socket(): RtSocket {
    if (this.sock === undefined) throw new Error('overlay controller is not started');
    return this.sock;
  }
}
