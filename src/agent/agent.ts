/**
 * The running daemon: config, supervisor, status server and systemd notifications, with reload
 * (SIGHUP) and graceful stop (SIGTERM/SIGINT) wired by cli/run.ts.
 */
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { parseHostPort } from '../net/host-port.js';
import { AgentError, ConfigError, ErrorCode, errorMessage, formatIssue } from '../errors.js';
import type { Logger } from '../log.js';
import { HistoryRecorder, type DnsReading } from '../status/history.js';
import { createRegistry } from '../status/metrics.js';
import { bindStatusListener, closeListener } from '../status/listener.js';
import type { StatusServer } from '../status/server.js';
import type { StatusDocument } from '../status/status-document.js';
import { VERSION } from '../version.js';
import type { ControllerModule } from './controller.js';
import { cancelMemoryTrim, scheduleMemoryTrim } from './memory-trim.js';
import { createNotifier, type Notifier } from './sd-notify.js';
import { Supervisor } from './supervisor.js';

/** How long the status server waits for the controllers' first pass before loading anyway. */
const STATUS_SERVER_WAIT_MS = 1000;

/** Resolves when `p` settles (either way) or after `ms`, whichever comes first. */
function settledOrAfter(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    p.then(done, done);
  });
}

export interface AgentOptions {
  loaded: LoadedConfig;
  modules: readonly ControllerModule[];
  log: Logger;
  configMustExist: boolean;
}

export interface ReloadResult {
  ok: boolean;
  error?: string;
}

export class Agent {
  readonly metrics: Registry;
  private readonly supervisor: Supervisor;
  private readonly notifier: Notifier;
  private readonly log: Logger;
  private readonly startedAt = Date.now();
  private loaded: LoadedConfig;
  private generation = 1;
  private lastReload: { ok: boolean; at: string; error?: string } | undefined;
  private server: StatusServer | undefined;
  /** The bound status socket: the agent's to close; the status server only answers on it. */
  private listener: Server | undefined;
  private readonly reloads: Counter<'result'>;
  private reloading: Promise<ReloadResult> | undefined;
  private readonly history: HistoryRecorder;

  constructor(private readonly options: AgentOptions) {
    this.loaded = options.loaded;
    this.log = options.log;
    this.metrics = createRegistry();
    this.notifier = createNotifier(this.log);
    this.supervisor = new Supervisor(this.loaded.config, { modules: options.modules, log: this.log, metrics: this.metrics });
    this.reloads = new Counter({
      name: 'mesh_node_agent_config_reloads_total',
      help: 'Config reloads by result.',
      labelNames: ['result'],
      registers: [this.metrics],
    });
    for (const result of ['applied', 'rejected']) this.reloads.inc({ result }, 0);
    this.history = new HistoryRecorder({ read: () => this.dnsReading() });
    const generation = (): number => this.generation;
    new Gauge({
      name: 'mesh_node_agent_config_generation',
      help: 'Increments on every successful reload.',
      registers: [this.metrics],
      collect() {
        this.set(generation());
      },
    });
  }

  async start(): Promise<void> {
    const listen = parseHostPort(this.loaded.config.status.listen);
    if (listen === undefined) throw new AgentError(ErrorCode.ConfigInvalid, `status.listen "${this.loaded.config.status.listen}" is not HOST:PORT`);
    // The socket comes first: a taken port fails the start before anything touches the host, and a
    // slow controller shows as not-ready ("starting"), not as silence.
    const listener = await bindStatusListener(listen);
    this.listener = listener;
    this.log.info({ listen: this.loaded.config.status.listen }, 'status endpoint listening');
    const started = this.supervisor.start();
    // fastify is most of the bundle (`version` and `check-config` never load it): the host is
    // programmed first, and the status server takes the socket over after the controllers' first
    // pass, or after STATUS_SERVER_WAIT_MS when one of them is slow.
    await settledOrAfter(started, STATUS_SERVER_WAIT_MS);
    const { startStatusServer } = await import('../status/server.js');
    this.server = await startStatusServer(listener, {
      source: { readiness: () => this.supervisor.readiness(), status: () => this.status(), history: () => this.history.history() },
      metrics: this.metrics,
      allowRemote: this.loaded.config.status.allowRemote,
    });
    await started;
    this.history.start();
    await this.notifier.notify('READY=1', `STATUS=${this.supervisor.isReady() ? 'ready' : 'started, waiting for controllers'}`);
    this.log.info({ version: VERSION, ready: this.supervisor.isReady() }, 'agent started');
    scheduleMemoryTrim(this.log);
  }

  /** Re-read every source and apply it; an invalid config keeps the running one. Serialised. */
  reload(): Promise<ReloadResult> {
    const next = (this.reloading ?? Promise.resolve({ ok: true })).then(() => this.reloadOnce());
    this.reloading = next;
    return next;
  }

  async stop(): Promise<void> {
    await this.notifier.notify('STOPPING=1');
    this.log.info('stopping');
    cancelMemoryTrim();
    this.history.stop();
    await this.supervisor.stop();
    await this.server?.close();
    if (this.listener !== undefined) await closeListener(this.listener);
  }

  recordUnhandled(err: unknown): void {
    this.supervisor.recordUnhandled(err);
  }

  status(): StatusDocument {
    return {
      version: VERSION,
      hostname: hostname(),
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ready: this.supervisor.isReady(),
      config: {
        path: this.loaded.path,
        envFiles: this.loaded.envFiles,
        ...(this.loaded.warnings.length === 0 ? {} : { warnings: this.loaded.warnings }),
        generation: this.generation,
        ...(this.lastReload === undefined ? {} : { lastReload: this.lastReload }),
      },
      controllers: this.supervisor.status(),
      unhandledErrors: this.supervisor.unhandledErrors(),
    };
  }

  /** The DNS proxy's counters for the status page's history; null while it is not running. */
  private dnsReading(): DnsReading | null {
    const dns = this.supervisor.section('dns');
    if (dns.state !== 'running' || dns.queries === undefined || dns.cache === undefined) return null;
    return { queries: dns.queries, cacheHits: dns.cache.hits, cacheMisses: dns.cache.misses };
  }

  private async reloadOnce(): Promise<ReloadResult> {
    await this.notifier.notify('RELOADING=1', `MONOTONIC_USEC=${monotonicMicros()}`);
    const at = new Date().toISOString();
    try {
      let next: LoadedConfig;
      try {
        next = await loadConfig({ path: this.loaded.path, mustExist: this.options.configMustExist, previous: this.loaded });
      } catch (err) {
        const detail = err instanceof ConfigError ? err.issues.map(formatIssue) : [errorMessage(err)];
        this.log.error({ problems: detail }, 'config reload rejected; keeping the running config');
        this.reloads.inc({ result: 'rejected' });
        this.lastReload = { ok: false, at, error: detail.join('; ') };
        return { ok: false, error: detail.join('\n') };
      }
      // Same file and env files: nothing was parsed again; the controllers still reload (a reload retries).
      if (next === this.loaded) this.log.info('config file and env files unchanged since the last load');
      if (next.config.status.listen !== this.loaded.config.status.listen) {
        this.log.warn('status.listen changed; it takes effect on restart');
      }
      for (const warning of next.warnings) this.log.warn(warning);
      this.loaded = next;
      await this.supervisor.apply(next.config);
      this.generation += 1;
      this.reloads.inc({ result: 'applied' });
      this.lastReload = { ok: true, at };
      this.log.info({ generation: this.generation }, 'config reloaded');
      scheduleMemoryTrim(this.log);
      return { ok: true };
    } finally {
      await this.notifier.notify('READY=1');
    }
  }
}

function monotonicMicros(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}
