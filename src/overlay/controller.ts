/**
 * The overlay controller: sets up the VXLAN device, registers this VM with the registry (when one
 * is configured), takes every peer source's set through the peer gate (peer-intake.ts) and keeps
 * the kernel converged to what it accepts (reconcile-loop.ts). Triggers: a peer change (planned
 * against the cached kernel state, no dump), a kernel event on our device (debounced; full dump,
 * device repaired and all peers replayed if it was re-created), the periodic `overlay.resync`, a
 * restart of the event monitor (events may have been lost), and the expiry of a kernel-refusal
 * backoff. Only objects on our device are ever touched. The kernel, the registry and the clock are
 * injected (OverlayDeps), so the controller runs in unit tests without root.
 */
import type { Controller, ControllerContext, Readiness } from '../agent/controller.js';
import type { ReconcilerClock } from '../agent/reconciler.js';
import type { Config, OverlayConfig } from '../config/schema.js';
import type { KubernetesConfig } from '../kube/config-schema.js';
import type { OverlayDetails } from '../status/status-document.js';
import { AgentError, ErrorCode } from '../errors.js';
import { registries, type RegistryFactory } from '../registry/create.js';
import type { Peer, PeerSource } from '../registry/peer-source.js';
import type { OverlayRegistry } from '../registry/registry.js';
import { DeviceSetup, deviceName } from './device-setup.js';
import type { KernelEvents, OverlayKernel } from './kernel.js';
import { createOverlayMetrics, type OverlayMetrics } from './metrics.js';
import { PeerIntake } from './peer-intake.js';
import { peerRows } from './peer-list.js';
import { ReconcileLoop } from './reconcile-loop.js';
import { StaticPeerSource } from './static-peer-source.js';

export { deviceName };

export interface OverlayDeps {
  kernel: OverlayKernel;
  /** Which registry the config asks for, and how to create it (default: registry/create.ts). */
  registries?: RegistryFactory;
  /** The peer sources of the config itself (default: the static table, overlay.peers). */
  configSources?: (config: OverlayConfig) => PeerSource[];
  clock?: ReconcilerClock;
  random?: () => number;
}

const MONITOR_READY_MS = 10_000;

export class OverlayController implements Controller {
  readonly name = 'overlay' as const;
  private config: OverlayConfig;
  private stateDir: string;
  /** The top-level `kubernetes:` connection, for the Kubernetes registry. */
  private kubernetes: KubernetesConfig;
  private readonly ctx: ControllerContext;
  private readonly kernel: OverlayKernel;
  private readonly registries: RegistryFactory;
  private readonly configSources: (config: OverlayConfig) => PeerSource[];
  private readonly metrics: OverlayMetrics;
  private readonly intake: PeerIntake;
  private readonly loop: ReconcileLoop;
  private readonly device: DeviceSetup;
  private events: KernelEvents | undefined;
  private registry: { key: string; instance: OverlayRegistry; started: boolean } | undefined;
  private fromConfig: PeerSource[] = [];
  private readonly sourceCounts = new Map<string, number>();
  private stopping = false;
  private initialized = false;

  constructor(config: Config, ctx: ControllerContext, deps: OverlayDeps) {
    this.config = config.overlay;
    this.stateDir = config.stateDir;
    this.kubernetes = config.kubernetes;
    this.ctx = ctx;
    this.kernel = deps.kernel;
    this.registries = deps.registries ?? registries;
    this.configSources = deps.configSources ?? ((c) => [new StaticPeerSource(c.peers)]);
    this.metrics = createOverlayMetrics(ctx.metrics);
    this.intake = new PeerIntake({ log: ctx.log, stateDir: this.stateDir, refusedGauge: this.metrics.refused });
    this.device = new DeviceSetup(this.kernel, ctx.log);
    this.loop = new ReconcileLoop(
      {
        kernel: this.kernel,
        link: () => this.device.link,
        ensureDevice: () => this.device.ensure(),
        events: () => this.events,
        own: () => this.device.own(),
        initialized: () => this.initialized,
      },
      this.intake,
      ctx,
      this.metrics,
      { ...(deps.clock === undefined ? {} : { clock: deps.clock }), ...(deps.random === undefined ? {} : { random: deps.random }) },
    );
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.initialized = false;
    this.kernel.open();
    this.loop.start();
    try {
      await this.startInner();
    } catch (err) {
      // A failed start leaves no monitor process, registry connection or socket behind.
      await this.stop();
      throw err;
    }
  }

  private async startInner(): Promise<void> {
    await this.syncRegistry();
    await this.setupDevice();
    const events = this.kernel.events();
    this.events = events;
    events.on('event', (e) => this.loop.onKernelEvent(e));
    events.on('lost', (why) => this.ctx.log.warn({ why }, 'netlink event monitor lost; resyncing when it is back'));
    // The monitor (a child process) starts while the first pass programs, not before it. When it
    // starts listening after the first pass began its dump, a full pass covers what changed
    // meanwhile: now if initialized, else right after the first pass.
    let firstPassBegun = false;
    let listenedLate = false;
    events.on('ready', () => {
      if (this.initialized) void this.loop.request({ full: true, device: true, trigger: 'monitor' });
      else if (firstPassBegun) listenedLate = true;
    });
    if (!events.start()) {
      this.ctx.log.error('netlink event monitor script missing from this build; drift is repaired only by the periodic resync');
    } else {
      void events.waitReady(MONITOR_READY_MS).then((up) => {
        if (!up && !this.stopping) this.ctx.log.warn('netlink event monitor not ready after 10 s; periodic resync covers drift until it is');
      });
    }
    await this.startSources();
    firstPassBegun = true;
    const first = await this.loop.request({ full: true, device: false, trigger: 'start' });
    if (!first.ok) throw new AgentError(ErrorCode.NetlinkFailed, `overlay: first reconcile failed: ${this.loop.lastError?.message ?? 'unknown error'}`);
    this.initialized = true;
    if (listenedLate) void this.loop.request({ full: true, device: true, trigger: 'monitor' });
    this.loop.setResync(this.resyncMs());
  }

  async reload(config: Config): Promise<void> {
    const prev = this.config;
    this.config = config.overlay;
    this.stateDir = config.stateDir;
    this.kubernetes = config.kubernetes;
    const deviceKeys = (c: OverlayConfig): string => JSON.stringify([c.vni, c.port, c.device, c.underlay, c.mtu, c.subnet, c.network]);
    const deviceChanged = deviceKeys(prev) !== deviceKeys(this.config);
    const registryChanged = await this.syncRegistry();
    if (deviceChanged || registryChanged) {
      const oldName = deviceName(prev);
      if (deviceChanged && oldName !== deviceName(this.config)) {
        const old = (await this.kernel.listLinks()).find((l) => l.name === oldName);
        if (old !== undefined) await this.kernel.deleteLink(old);
      }
      // The VTEP (and with a new registry, the subnet) may have moved: register again, then the device.
      await this.setupDevice();
      if (deviceChanged) this.loop.cache.clear();
    }
    // The operator changed something: entries the kernel refused get a fresh try.
    this.loop.refused.clear();
    await this.startSources();
    this.loop.setResync(this.resyncMs());
    await this.loop.request({ full: true, device: deviceChanged, trigger: 'reload' });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.events?.stop();
    await this.stopConfigSources();
    await this.closeRegistry();
    await this.loop.stop();
    await this.intake.flush();
    this.kernel.close();
  }

  /** Resolves when every queued reconcile pass has finished (tests, benchmarks). */
  settled(): Promise<void> {
    return this.loop.settled();
  }

  /** A full resync now (dump, plan, apply), as the periodic timer does. */
  async resyncNow(): Promise<void> {
    await this.loop.request({ full: true, device: true, trigger: 'resync' });
  }

  status(): OverlayDetails {
    const loop = this.loop;
    const retrying = loop.refused.backoff.list(20);
    const sources = [...this.fromConfig, ...(this.registry === undefined ? [] : [this.registry.instance])];
    return {
      device: this.device.status(),
      peers: {
        desired: this.intake.desired.peers.size,
        programmed: loop.programmedCount(),
        failed: retrying.flatMap((r) => (r.key.startsWith('peer|') ? [r.key.split('|')[1] ?? ''] : [])),
        list: peerRows(this.intake.desired.peers.values(), (p) => loop.notProgrammed(p)),
      },
      ...this.intake.status(),
      retrying: retrying.map((r) => ({ entry: r.key, attempts: r.attempts, lastError: r.lastError, retryInMs: r.retryInMs })),
      sources: Object.fromEntries(sources.map((s) => [s.name, { peers: this.sourceCounts.get(s.name) ?? 0, ...s.status() }])),
      lastResync: loop.lastResync ?? null,
      driftRepairs: loop.driftRepairs,
      eventMonitor: { running: this.events?.running ?? false, restarts: this.events?.restarts ?? 0 },
      reconcile: loop.report(),
      reconcileErrors: loop.errors,
      lastReconcileError: loop.lastError ?? null,
    };
  }

  ready(): Readiness {
    if (!this.initialized) return { ready: false, reason: 'starting' };
    if (!this.loop.lastPassOk) return { ready: false, reason: `last reconcile failed: ${this.loop.lastError?.message ?? ''}` };
    const sources = [...this.fromConfig, ...(this.registry === undefined ? [] : [this.registry.instance])];
    for (const s of sources) {
      const r = s.ready();
      if (!r.ready) return { ready: false, reason: `peer source ${s.name}: ${r.reason ?? 'not ready'}` };
    }
    return { ready: true, reason: `${this.loop.programmedCount()}/${this.intake.desired.peers.size} peers programmed` };
  }

  /** Creates the registry the config asks for, or replaces the running one; true when it changed. */
  private async syncRegistry(): Promise<boolean> {
    const key = this.registries.key(this.config, this.stateDir, this.kubernetes);
    if (key === this.registry?.key) return false;
    // Created first: if that fails, the running registry stays.
    const instance = key === undefined ? undefined : await this.registries.create(this.config, { log: this.ctx.log, stateDir: this.stateDir, metrics: this.ctx.metrics, kubernetes: this.kubernetes });
    await this.closeRegistry();
    if (key !== undefined && instance !== undefined) this.registry = { key, instance, started: false };
    return true;
  }

  private async closeRegistry(): Promise<void> {
    const registry = this.registry;
    this.registry = undefined;
    try {
      await registry?.instance.close();
    } catch (err) {
      this.ctx.log.warn({ err, registry: registry?.instance.name }, 'registry did not close cleanly');
    }
  }

  /** Underlay, MAC, this VM's subnet (from the registry, else overlay.subnet), the device, the gate's host facts. */
  private async setupDevice(): Promise<void> {
    const registry = this.registry?.instance;
    const host = await this.device.setup(this.config, this.stateDir, (local) => (registry === undefined ? configuredSubnet(this.config) : registry.register(local)));
    this.intake.setHost(host);
  }

  /**
   * The config's sources are rebuilt on every start and reload; the registry keeps running across
   * reloads that leave its settings alone (it is started once, and keeps what it delivered).
   */
  private async startSources(): Promise<void> {
    await this.stopConfigSources();
    this.fromConfig = this.configSources(this.config);
    const registry = this.registry;
    await this.intake.setSources([...this.fromConfig, ...(registry === undefined ? [] : [registry.instance])], this.config.network);
    for (const source of this.fromConfig) await source.start((peers) => this.onPeers(source.name, peers));
    if (registry !== undefined && !registry.started) {
      registry.started = true;
      await registry.instance.start((peers) => this.onPeers(registry.instance.name, peers));
    }
  }

  private onPeers(source: string, peers: readonly Peer[]): void {
    if (this.stopping) return;
    this.sourceCounts.set(source, peers.length);
    const { changes, synced } = this.intake.deliver(source, peers);
    this.metrics.peersDesired.set(this.intake.desired.peers.size);
    if (!this.initialized) return;
    // The last remote source has listed: a full pass removes what went stale meanwhile.
    if (synced) void this.loop.request({ full: true, device: false, trigger: 'peers' });
    else if (changes.length > 0) {
      this.loop.queue(changes);
      void this.loop.request({ full: false, device: false, trigger: 'peers' });
    }
  }

  private async stopConfigSources(): Promise<void> {
    const sources = this.fromConfig;
    this.fromConfig = [];
    for (const s of sources) {
      try {
        await s.stop();
      } catch (err) {
        this.ctx.log.warn({ err, source: s.name }, 'peer source did not stop cleanly');
      }
    }
  }

  private resyncMs(): number {
    return Math.max(this.config.resync, 1000);
  }
}

/** This VM's subnet without a registry: `overlay.subnet`. */
function configuredSubnet(config: OverlayConfig): Promise<string> {
  if (config.subnet === '') {
    return Promise.reject(new AgentError(ErrorCode.ConfigInvalid, 'overlay.subnet is empty: set this host\'s subnet, e.g. 10.234.3.0/24 (or configure overlay.etcd to acquire one)'));
  }
  return Promise.resolve(config.subnet);
}
