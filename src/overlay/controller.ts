/**
 * The overlay controller: sets up the VXLAN device, takes every peer source's set through the
 * peer gate (peer-intake.ts) and keeps the kernel converged to what it accepts (reconcile-loop.ts).
 * Triggers: a peer change (planned against the cached kernel state, no dump), a netlink event on
 * our device (debounced; full dump, device repaired and all peers replayed if it was re-created),
 * the periodic `overlay.resync`, a restart of the event monitor (events may have been lost), and
 * the expiry of a kernel-refusal backoff. Only objects on our device are ever touched.
 */
import type { Controller, ControllerContext, Readiness } from '../agent/controller.js';
import type { Config, OverlayConfig } from '../config/schema.js';
import type { OverlayDetails } from '../status/status-document.js';
import { AgentError, ErrorCode } from '../errors.js';
import { listAddresses } from '../netlink/addresses.js';
import { NetlinkEvents, monitorScript } from '../netlink/events.js';
import { deleteLink, getLinkByName, listLinks, type Link } from '../netlink/links.js';
import { listRoutes } from '../netlink/routes.js';
import { RtSocket } from '../netlink/socket.js';
import { hostFacts } from './host-facts.js';
import { createOverlayMetrics, type OverlayMetrics } from './metrics.js';
import { PeerIntake } from './peer-intake.js';
import { peerRows } from './peer-list.js';
import type { Peer, PeerSource } from './peer-source.js';
import { buildPeerSources, ownSubnetAcquirer, type SourceContext } from './peer-sources.js';
import { ReconcileLoop } from './reconcile-loop.js';
import { parseSubnet, type Subnet } from './subnet.js';
import { resolveUnderlay, type Underlay } from './underlay.js';
import { loadOrCreateMac } from './vtep-mac.js';
import { ensureDevice, type DeviceSpec } from './vxlan-device.js';

export interface OverlayDeps {
  buildSources?: (config: OverlayConfig, ctx: SourceContext) => PeerSource[] | Promise<PeerSource[]>;
  acquirer?: typeof ownSubnetAcquirer;
}

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
  private readonly intake: PeerIntake;
  private readonly loop: ReconcileLoop;
  private sock: RtSocket | undefined;
  private events: NetlinkEvents | undefined;
  private spec: DeviceSpec | undefined;
  private link: Link | undefined;
  private underlay: Underlay | undefined;
  private own: Subnet | undefined;
  private sources: PeerSource[] = [];
  private readonly sourceCounts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private initialized = false;
  private deviceActions: string[] = [];
  /** Work sources and acquirers deferred to stop (lease renewers). */
  private readonly cleanups: (() => Promise<void>)[] = [];

  constructor(config: Config, ctx: ControllerContext, deps: OverlayDeps = {}) {
    this.config = config.overlay;
    this.stateDir = config.stateDir;
    this.ctx = ctx;
    this.deps = { buildSources: deps.buildSources ?? buildPeerSources, acquirer: deps.acquirer ?? ownSubnetAcquirer };
    this.metrics = createOverlayMetrics(ctx.metrics);
    this.intake = new PeerIntake({ log: ctx.log, stateDir: this.stateDir, refusedGauge: this.metrics.refused });
    this.loop = new ReconcileLoop(
      {
        socket: () => this.socket(),
        link: () => this.link,
        ensureDevice: () => this.ensure(),
        events: () => this.events,
        own: () => ({ ...(this.own === undefined ? {} : { subnet: this.own.cidr }), ...(this.spec === undefined ? {} : { mac: this.spec.mac }) }),
        initialized: () => this.initialized,
      },
      this.intake,
      ctx,
      this.metrics,
    );
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.loop.start();
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
    events.on('event', (e) => this.loop.onKernelEvent(e));
    events.on('lost', (why) => this.ctx.log.warn({ why }, 'netlink event monitor lost; resyncing when it is back'));
    // The monitor (a child process) starts while the first pass programs, not before it. Whenever it
    // starts listening, a full pass covers what changed before: now if initialized, else right after.
    let listenedEarly = false;
    events.on('ready', () => {
      if (this.initialized) void this.loop.request({ full: true, device: true, trigger: 'monitor' });
      else listenedEarly = true;
    });
    if (!events.start()) {
      this.ctx.log.error({ script: monitorScript() }, 'netlink event monitor script missing from this build; drift is repaired only by the periodic resync');
    } else {
      void events.waitReady(10_000).then((up) => {
        if (!up && !this.stopping) this.ctx.log.warn('netlink event monitor not ready after 10 s; periodic resync covers drift until it is');
      });
    }
    await this.startSources();
    await this.loop.request({ full: true, device: false, trigger: 'start' });
    if (!this.loop.lastPassOk) throw new AgentError(ErrorCode.NetlinkFailed, `overlay: first reconcile failed: ${this.loop.lastError?.message ?? 'unknown error'}`);
    this.initialized = true;
    if (listenedEarly) void this.loop.request({ full: true, device: true, trigger: 'monitor' });
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
      this.loop.cache.clear();
    }
    await this.stopSources();
    // The operator changed something: entries the kernel refused get a fresh try.
    this.loop.backoff.clear();
    await this.startSources();
    this.armTimer();
    await this.loop.request({ full: true, device: deviceChanged, trigger: 'reload' });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.events?.stop();
    await this.stopSources();
    await this.loop.stop();
    await this.intake.flush();
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
    return this.loop.settled();
  }

  /** A full resync now (dump, plan, apply), as the periodic timer does. */
  resyncNow(): Promise<void> {
    return this.loop.request({ full: true, device: true, trigger: 'resync' });
  }

  status(): OverlayDetails {
    const loop = this.loop;
    const retrying = loop.backoff.list(20);
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
      peers: {
        desired: this.intake.desired.peers.size,
        programmed: loop.programmedCount(),
        failed: retrying.flatMap((r) => (r.key.startsWith('peer|') ? [r.key.split('|')[1] ?? ''] : [])),
        list: peerRows(this.intake.desired.peers.values(), (p) => loop.notProgrammed(p)),
      },
      ...this.intake.status(),
      retrying: retrying.map((r) => ({ entry: r.key, attempts: r.attempts, lastError: r.lastError, retryInMs: r.retryInMs })),
      sources: Object.fromEntries(this.sources.map((s) => [s.name, { peers: this.sourceCounts.get(s.name) ?? 0, ...s.status() }])),
      lastResync: loop.lastResync ?? null,
      driftRepairs: loop.driftRepairs,
      eventMonitor: { running: this.events?.running ?? false, restarts: this.events?.restarts ?? 0 },
      reconcileErrors: loop.errors,
      lastReconcileError: loop.lastError ?? null,
    };
  }

  ready(): Readiness {
    if (!this.initialized) return { ready: false, reason: 'starting' };
    if (!this.loop.lastPassOk) return { ready: false, reason: `last reconcile failed: ${this.loop.lastError?.message ?? ''}` };
    const notReady = this.sources.find((s) => !s.ready().ready);
    if (notReady !== undefined) return { ready: false, reason: `peer source ${notReady.name}: ${notReady.ready().reason ?? 'not ready'}` };
    return { ready: true, reason: `${this.loop.programmedCount()}/${this.intake.desired.peers.size} peers programmed` };
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
    const mtu = this.config.mtu > 0 ? this.config.mtu : this.underlay.mtu - 50;
    this.spec = { name, vni: this.config.vni, port: this.config.port, local: this.underlay.address, underlayIndex: this.underlay.index, mtu, mac, vtep: own.network };
    await this.ensure();
    // The gate knows the host before the first peers arrive (the start pass finds the same facts).
    const overlayIndexes = [existing?.index ?? -1, this.link?.index ?? -1];
    const { network: _network, ...host } = hostFacts({ addresses, routes, overlayIndexes }, { ownSubnet: own.cidr, ownMAC: mac });
    this.intake.setHost(host);
  }

  private async ensure(): Promise<boolean> {
    if (this.spec === undefined) throw new AgentError(ErrorCode.Internal, 'device spec missing');
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
    this.sources = await this.deps.buildSources(this.config, this.sourceContext());
    await this.intake.setSources(this.sources, this.config.network);
    this.sourceCounts.clear();
    for (const source of this.sources) {
      await source.start((peers) => this.onPeers(source.name, peers));
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

  private armTimer(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.loop.request({ full: true, device: true, trigger: 'resync' }), Math.max(this.config.resync, 1000));
    this.timer.unref();
  }

  private socket(): RtSocket {
    if (this.sock === undefined) throw new AgentError(ErrorCode.Internal, 'overlay controller is not started');
    return this.sock;
  }
}
