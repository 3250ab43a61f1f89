/**
 * The dns controller: listeners on every dns.listen address, the answering pipeline
 * (resolver.ts) and its inputs — hosts table, mesh table from ServiceEntry manifests, forward
 * rules and upstreams. Reload swaps the routes in place and keeps listeners whose address is
 * unchanged, so no query is dropped across a reload.
 */
import type { ControllerContext, Controller, Readiness } from '../agent/controller.js';
import type { DnsDetails } from '../status/status-document.js';
import type { Config, DnsConfig } from '../config/schema.js';
import { parseHostPort, type HostPort } from '../net/host-port.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { AnswerEpoch } from './answer-epoch.js';
import { DnsCache } from './cache.js';
import { nativeClock, performanceClock } from './clock.js';
import { Forwarder } from './forwarder.js';
import { HostsTable } from './hosts-table.js';
import { Listener } from './listener.js';
import { loadUdpBatch } from './udp-batch.js';
import { MeshTable } from './mesh-table.js';
import { registerDnsMetrics } from './metrics.js';
import { DomainTable, normalizeName } from './names.js';
import { Resolver, type Routes } from './resolver.js';
import { savedResolvConfPath } from '../host/resolv-conf.js';
import { savedUpstreams } from './resolv-conf.js';
import { describeProblems, ServiceEntrySource, type LoadOutcome } from './service-entries.js';
import { startKubeServiceEntries, type KubeEntriesHandle } from './service-entries-kube-hook.js';
import { DnsStats } from './stats.js';
import { Upstream } from './upstream.js';

/** Per-server wait before failing over (CoreDNS read_timeout is 2 s). */
export const UPSTREAM_TIMEOUT_MS = 2000;
/** Forwarded queries outstanding at once; above it clients get REFUSED (CoreDNS max_concurrent). */
export const MAX_IN_FLIGHT = 1024;
/** How late past its deadline an upstream query may be noticed. */
const SWEEP_MS = 50;

function listenAddresses(cfg: DnsConfig): HostPort[] {
  return cfg.listen.map((l) => {
    const hp = parseHostPort(l);
    if (hp === undefined) throw new AgentError(ErrorCode.DnsFailed, `dns.listen: "${l}" is not HOST:PORT`);
    return hp;
  });
}

function serverAddress(server: string): HostPort {
  const hp = parseHostPort(server, 53);
  if (hp === undefined) throw new AgentError(ErrorCode.DnsFailed, `"${server}" is not a DNS server address`);
  return hp;
}

export class DnsController implements Controller {
  readonly name = 'dns' as const;
  private config: Config;
  private readonly stats = new DnsStats();
  private readonly cache: DnsCache;
  private readonly resolver: Resolver;
  private listeners = new Map<string, Listener>();
  private upstreamPool = new Map<string, Upstream>();
  private defaultUpstreams: string[] = [];
  private upstreamSource = 'config';
  private entries: ServiceEntrySource | undefined;
  private kubeEntries: KubeEntriesHandle | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private manifestErrors = 0;
  private started = false;

  constructor(
    config: Config,
    private readonly ctx: ControllerContext,
  ) {
    this.config = config;
    const cfg = config.dns;
    const native = loadUdpBatch().addon;
    const clock = native === undefined ? performanceClock : nativeClock(native);
    const epoch = new AnswerEpoch();
    this.cache = new DnsCache(cfg.cache.size, { maxTTL: cfg.cache.maxTTL, negativeTTL: cfg.cache.negativeTTL }, clock.seconds, epoch);
    const empty: Routes = { hosts: HostsTable.build([], cfg.ttl), mesh: MeshTable.empty(), forward: new DomainTable(), upstream: undefined };
    this.resolver = new Resolver(empty, this.cache, this.stats, MAX_IN_FLIGHT, clock, epoch);
    this.resolver.onBusy = () => this.sweepWhileBusy();
    registerDnsMetrics(ctx.metrics, {
      stats: () => this.foldedStats(),
      cache: () => {
        this.foldedStats();
        return this.cache;
      },
      upstreams: () => [...this.upstreamPool.values()].map((u) => u.health()),
      inFlight: () => this.resolver.inFlight,
      meshHosts: () => this.resolver.routes.mesh.size,
      manifestErrors: () => this.manifestErrors,
    });
  }

  async start(): Promise<void> {
    await this.applyRoutes(this.config, true);
    await this.syncListeners(this.config.dns);
    this.started = true;
    const native = loadUdpBatch();
    if (native.addon === undefined) this.ctx.log.info({ reason: native.reason }, 'dns: UDP through node:dgram, not the batched native socket');
    this.ctx.log.info({ listen: [...this.listeners.keys()], upstreams: this.defaultUpstreams, upstreamSource: this.upstreamSource }, 'dns proxy listening');
  }

  /**
   * Times out overdue upstream queries every SWEEP_MS, only while some are outstanding or upstream UDP
   * sockets are open (closed when idle past their time, within UDP_PORT_MS of the last query): an
   * idle timer would wake the event loop 20 times a second, and a query that arrives meanwhile waits for it.
   */
  private sweepWhileBusy(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      let pending = this.resolver.inFlight;
      for (const u of this.upstreamPool.values()) {
        u.sweep(now);
        pending += u.inFlight + u.udpSockets;
      }
      if (pending === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  async reload(config: Config): Promise<void> {
    const before = this.config.dns;
    const beforeKube = this.config.kubernetes;
    this.config = config;
    const cfg = config.dns;
    this.cache.configure(cfg.cache.size, { maxTTL: cfg.cache.maxTTL, negativeTTL: cfg.cache.negativeTTL });
    const seChanged = JSON.stringify(before.serviceEntries) !== JSON.stringify(cfg.serviceEntries) || before.ttl !== cfg.ttl || (cfg.serviceEntries.kubernetes && JSON.stringify(beforeKube) !== JSON.stringify(config.kubernetes));
    await this.applyRoutes(config, seChanged);
    // Routing may have changed: answers cached under the old rules must not outlive them.
    if (JSON.stringify([before.forward, before.upstreams, before.hosts]) !== JSON.stringify([cfg.forward, cfg.upstreams, cfg.hosts])) this.cache.clear();
    await this.syncListeners(cfg);
  }

  async stop(): Promise<void> {
    this.started = false;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.entries?.stop();
    this.entries = undefined;
    this.kubeEntries?.stop();
    this.kubeEntries = undefined;
    await Promise.all([...this.listeners.values()].map((l) => l.stop()));
    this.listeners.clear();
    for (const u of this.upstreamPool.values()) u.close();
    this.upstreamPool.clear();
  }

  /** The statistics with the answers the listeners' reply memos gave by themselves folded in. */
  private foldedStats(): DnsStats {
    for (const l of this.listeners.values()) l.foldNativeAnswers();
    return this.stats;
  }

  status(): DnsDetails {
    const s = this.foldedStats();
    const lookups = this.cache.hits + this.cache.misses;
    return {
      listeners: [...this.listeners.values()].map((l) => ({ address: l.key, udp: l.udpPath, memo: l.memo, memoAnswered: l.memoAnswered, tcp: true, tcpConnections: l.tcpConnections, tcpRejected: l.tcpRejected, tcpExpired: l.tcpExpired })),
      queries: s.queries,
      bySource: { ...s.bySource },
      byRcode: Object.fromEntries(s.byRcode.map((n, rcode): [string, number] => [s.rcodeName(rcode), n]).filter(([, n]) => n !== 0)),
      dropped: s.dropped,
      truncated: s.truncated,
      refusedOverload: s.refusedOverload,
      coalesced: s.coalesced,
      inFlight: this.resolver.inFlight,
      cache: { size: this.cache.size, capacity: this.config.dns.cache.size, hits: this.cache.hits, misses: this.cache.misses, hitRate: lookups === 0 ? 0 : Math.round((this.cache.hits / lookups) * 1000) / 1000 },
      upstreams: { source: this.upstreamSource, servers: this.defaultUpstreams, health: [...this.upstreamPool.values()].map((u) => u.health()) },
      hosts: this.resolver.routes.hosts.size,
      mesh: {
        hosts: this.resolver.routes.mesh.size,
        allocated: this.resolver.routes.mesh.hosts.filter((h) => h.allocated).map((h) => ({ host: h.host, vip: h.addresses[0] })),
        loads: this.entries?.loads ?? 0,
        lastLoad: this.entries?.lastLoad,
        problems: this.entries?.problems ?? [],
        ...(this.kubeEntries === undefined ? {} : { kubernetes: this.kubeEntries.status() }),
      },
    };
  }

  ready(): Readiness {
    if (!this.started) return { ready: false, reason: 'not listening' };
    const problems = this.entries?.problems ?? [];
    if (problems.length > 0) return { ready: true, reason: `serving the last good mesh table; ${describeProblems(problems)}` };
    const kube = this.kubeEntries?.problem();
    if (kube !== undefined) return { ready: true, reason: `serving the last ServiceEntries read; ${kube}` };
    return { ready: true, reason: `listening on ${[...this.listeners.keys()].join(', ')}` };
  }

  /** Builds hosts, forward rules and upstreams (and the mesh source when asked) and swaps them in. */
  private async applyRoutes(config: Config, rebuildMesh: boolean): Promise<void> {
    const cfg = config.dns;
    const listeners = listenAddresses(cfg);
    if (cfg.upstreams.length > 0) {
      this.defaultUpstreams = cfg.upstreams;
      this.upstreamSource = 'config';
    } else {
      try {
        this.defaultUpstreams = await savedUpstreams(config.stateDir, listeners);
      } catch (err) {
        throw new AgentError(ErrorCode.DnsFailed, `cannot read or save ${savedResolvConfPath(config.stateDir)}: ${errorMessage(err)}; make stateDir writable or set dns.upstreams`, { cause: err });
      }
      this.upstreamSource = savedResolvConfPath(config.stateDir);
    }
    const pool = new Map<string, Upstream>();
    const forwarderFor = (servers: readonly string[]): Forwarder => {
      const ups = servers.flatMap((s) => {
        const hp = serverAddress(s);
        if (listeners.some((l) => l.host === hp.host && l.port === hp.port)) {
          // Forwarding to ourselves would bounce each query until the in-flight cap is hit.
          this.ctx.log.warn({ server: s }, 'ignoring a DNS server that is one of our own listen addresses (a forwarding loop)');
          return [];
        }
        const key = Upstream.keyOf(hp.host, hp.port);
        const u = pool.get(key) ?? this.upstreamPool.get(key) ?? new Upstream(hp.host, hp.port);
        pool.set(key, u);
        return [u];
      });
      return new Forwarder(ups, UPSTREAM_TIMEOUT_MS);
    };
    const forward = new Map<string, Forwarder>();
    for (const rule of cfg.forward) forward.set(normalizeName(rule.domain), forwarderFor(rule.servers));
    const upstream = forwarderFor(this.defaultUpstreams);
    if (rebuildMesh) {
      // First, so that a connection that cannot be made leaves the running sources as they are.
      // The API's changes rebuild the table with the current file source's files.
      const kube = cfg.serviceEntries.kubernetes ? await startKubeServiceEntries(config, this.ctx.log, () => this.entries?.rebuild()) : undefined;
      const previous = this.entries?.current ?? MeshTable.empty();
      this.entries?.stop();
      this.kubeEntries?.stop();
      this.kubeEntries = kube;
      const source = new ServiceEntrySource({
        paths: cfg.serviceEntries.paths,
        autoAllocate: cfg.serviceEntries.autoAllocate,
        ttl: cfg.ttl,
        initial: previous,
        onChange: (outcome) => this.meshChanged(outcome),
        ...(kube === undefined ? {} : { extra: () => kube.current() }),
      });
      this.entries = source;
      await source.start();
    }
    this.resolver.routes = {
      hosts: HostsTable.build(cfg.hosts, cfg.ttl),
      mesh: this.entries?.current ?? MeshTable.empty(),
      forward: new DomainTable(forward),
      upstream,
    };
    for (const [server, u] of this.upstreamPool) if (!pool.has(server)) u.close();
    this.upstreamPool = pool;
  }

  private meshChanged(outcome: LoadOutcome): void {
    if (outcome.problems.length > 0) {
      this.manifestErrors += 1;
      this.ctx.reportError(new AgentError(ErrorCode.DnsFailed, `ServiceEntry manifests rejected, keeping the last good table (${outcome.table.size} hosts): ${describeProblems(outcome.problems)}`));
      return;
    }
    this.resolver.routes = { ...this.resolver.routes, mesh: outcome.table };
    this.ctx.log.info({ hosts: outcome.table.size }, 'mesh name table loaded');
  }

  private async syncListeners(cfg: DnsConfig): Promise<void> {
    const wanted = new Map<string, HostPort>();
    for (const hp of listenAddresses(cfg)) {
      const l = new Listener(hp, () => this.resolver);
      wanted.set(l.key, hp);
    }
    for (const [key, l] of this.listeners) {
      if (wanted.has(key)) continue;
      await l.stop();
      this.listeners.delete(key);
    }
    for (const [key, hp] of wanted) {
      if (this.listeners.has(key)) continue;
      const l = new Listener(hp, () => this.resolver);
      try {
        await l.start();
      } catch (err) {
        throw new AgentError(ErrorCode.DnsFailed, `cannot listen on ${key}: ${errorMessage(err)}; is another DNS server (dnsmasq, systemd-resolved) using it?`, { cause: err });
      }
      this.listeners.set(key, l);
    }
  }
}
