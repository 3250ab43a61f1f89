/**
 * Starts the enabled controllers, aggregates their readiness, applies reloads (validate first:
 * a bad config keeps the running one) and stops them within a bounded time. A controller that
 * throws is marked failed and shown in /status; the others and the daemon keep running.
 * start() and apply() run one at a time: a reload (SIGHUP) that arrives while a controller is still
 * starting waits for that start and then reloads it, instead of creating a second controller.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config, ControllerName } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ControllerDetails, ControllerSection, ControllerSections } from '../status/status-document.js';
import type { Controller, ControllerContext, ControllerModule, Readiness } from './controller.js';

type State = 'starting' | 'running' | 'failed' | 'stopping' | 'stopped';

interface Slot {
  module: ControllerModule;
  log: Logger;
  controller: Controller;
  state: State;
  lastError?: { message: string; at: string };
  errors: number;
}

export interface ReadinessCheck extends Readiness {
  name: string;
}

export interface SupervisorOptions {
  modules: readonly ControllerModule[];
  log: Logger;
  metrics: Registry;
  /** Upper bound for one controller's stop(). */
  stopTimeoutMs?: number;
}

export class Supervisor {
  private readonly slots = new Map<ControllerName, Slot>();
  private readonly modules: readonly ControllerModule[];
  private readonly log: Logger;
  private readonly metrics: Registry;
  private readonly stopTimeoutMs: number;
  private readonly errorCounter: Counter<'controller'>;
  private config: Config;
  private readonly unhandled: { count: number; last?: { message: string; at: string } } = { count: 0 };
  /** The start or apply in progress; the next one runs after it. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(config: Config, options: SupervisorOptions) {
    this.config = config;
    this.modules = options.modules;
    this.log = options.log;
    this.metrics = options.metrics;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 4000;
    this.errorCounter = new Counter({
      name: 'mesh_node_agent_controller_errors_total',
      help: 'Errors reported by or caught around a controller.',
      labelNames: ['controller'],
      registers: [this.metrics],
    });
    // Series at 0 from the start: a dashboard shows "0 errors", not "no data".
    for (const module of this.modules) this.errorCounter.inc({ controller: module.name }, 0);
    const readiness = (): ReadinessCheck[] => this.readiness();
    new Gauge({
      name: 'mesh_node_agent_controller_ready',
      help: '1 when the controller reports ready.',
      labelNames: ['controller'],
      registers: [this.metrics],
      collect() {
        for (const check of readiness()) this.set({ controller: check.name }, check.ready ? 1 : 0);
      },
    });
  }

  get current(): Config {
    return this.config;
  }

  start(): Promise<void> {
    return this.serially(async () => {
      for (const module of this.modules) {
        if (this.enabled(module.name, this.config)) await this.startOne(module);
      }
    });
  }

  /** Apply a validated config: reload running controllers, start newly enabled ones, stop disabled ones. */
  apply(next: Config): Promise<void> {
    return this.serially(() => this.applyNow(next));
  }

  private async applyNow(next: Config): Promise<void> {
    const previous = this.config;
    this.config = next;
    // pino children keep the level they were created with: carry a new log.level to them.
    this.log.level = next.log.level;
    for (const slot of this.slots.values()) slot.log.level = next.log.level;
    for (const module of this.modules) {
      const was = this.enabled(module.name, previous);
      const now = this.enabled(module.name, next);
      const slot = this.slots.get(module.name);
      if (now && slot !== undefined && slot.state === 'running') {
        await this.guard(slot, 'reload', () => slot.controller.reload(next));
      } else if (now && (slot === undefined || slot.state !== 'running')) {
        if (slot !== undefined) await this.stopOne(slot);
        await this.startOne(module);
      } else if (was && !now && slot !== undefined) {
        await this.stopOne(slot);
        this.slots.delete(module.name);
      }
    }
  }

  /** Not queued behind a slow start: stops at once; a start or apply still queued then does nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running = [...this.slots.values()].reverse();
    for (const slot of running) await this.stopOne(slot);
  }

  readiness(): ReadinessCheck[] {
    const checks: ReadinessCheck[] = [];
    for (const module of this.modules) {
      if (!this.enabled(module.name, this.config)) continue;
      const slot = this.slots.get(module.name);
      if (slot === undefined) {
        checks.push({ name: module.name, ready: false, reason: 'not started' });
      } else if (slot.state === 'failed') {
        checks.push({ name: module.name, ready: false, reason: `failed: ${slot.lastError?.message ?? 'unknown error'}` });
      } else if (slot.state !== 'running') {
        checks.push({ name: module.name, ready: false, reason: slot.state });
      } else {
        checks.push({ name: module.name, ...this.safeReady(slot) });
      }
    }
    return checks;
  }

  isReady(): boolean {
    return this.readiness().every((check) => check.ready);
  }

  /** Every controller's section of /status, whether enabled or not. */
  status(): ControllerSections {
    const checks = this.readiness();
    return { identity: this.section('identity', checks), overlay: this.section('overlay', checks), capture: this.section('capture', checks), dns: this.section('dns', checks) };
  }

  /** One controller's section of /status. */
  section<N extends ControllerName>(name: N, checks: readonly ReadinessCheck[] = this.readiness()): ControllerSection<ControllerDetails[N]> {
    const enabled = this.enabled(name, this.config);
    const slot = this.slots.get(name);
    if (!enabled || slot === undefined) return { enabled, state: enabled ? 'not started' : 'disabled' };
    let details: Record<string, unknown>;
    try {
      details = slot.controller.status();
    } catch (err) {
      details = { statusError: errorMessage(err) };
    }
    const check = checks.find((c) => c.name === name);
    // The details are the controller's own status(), typed in its module (identity, capture and
    // dns return their *Details type; the overlay's is loose): the supervisor only carries them.
    const own = details as Partial<ControllerDetails[N]>;
    return {
      enabled: true,
      state: slot.state,
      ready: check?.ready ?? false,
      ...(check?.reason === undefined ? {} : { reason: check.reason }),
      errors: slot.errors,
      ...(slot.lastError === undefined ? {} : { lastError: slot.lastError }),
      ...own,
    };
  }

  /** An error that escaped every handler; pinned on a controller when we can tell which. */
  recordUnhandled(err: unknown, controller?: ControllerName): void {
    const slot = controller === undefined ? undefined : this.slots.get(controller);
    if (slot !== undefined) this.noteError(slot, err);
    this.unhandled.count += 1;
    this.unhandled.last = { message: errorMessage(err), at: new Date().toISOString() };
    this.log.error({ err, controller }, 'unhandled error; the agent keeps running');
  }

  /** Errors that escaped every controller handler (shown in /status so they are not only in logs). */
  unhandledErrors(): { count: number; last?: { message: string; at: string } } {
    return { ...this.unhandled };
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => (this.stopped ? undefined : work()));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private enabled(name: ControllerName, config: Config): boolean {
    return config[name].enabled;
  }

  private async startOne(module: ControllerModule): Promise<void> {
    const log = this.log.child({ controller: module.name });
    // Until create() succeeds the slot holds an inert stand-in, so /status can say why it failed.
    const slot: Slot = { module, log, controller: inertController(module.name), state: 'starting', errors: 0 };
    this.slots.set(module.name, slot);
    const ctx: ControllerContext = {
      log,
      metrics: this.metrics,
      reportError: (err) => {
        this.noteError(slot, err);
        log.error({ err }, 'controller error');
      },
    };
    let controller: Controller;
    try {
      controller = await module.create(this.config, ctx);
    } catch (err) {
      slot.state = 'failed';
      this.noteError(slot, err);
      log.error({ err }, 'controller could not be created');
      return;
    }
    // Stopped (or replaced) while its code was loading: never start it behind the caller's back.
    if (slot.state !== 'starting' || this.slots.get(module.name) !== slot) return;
    slot.controller = controller;
    const ok = await this.guard(slot, 'start', () => slot.controller.start());
    slot.state = ok ? 'running' : 'failed';
    if (ok) log.info('controller started');
  }

  private async stopOne(slot: Slot): Promise<void> {
    if (slot.state === 'stopped') return;
    slot.state = 'stopping';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.stopTimeoutMs);
    });
    try {
      const result = await Promise.race([slot.controller.stop().then(() => 'ok' as const), timeout]);
      if (result === 'timeout') this.log.warn({ controller: slot.module.name, ms: this.stopTimeoutMs }, 'controller did not stop in time; moving on');
    } catch (err) {
      this.noteError(slot, err);
      this.log.error({ err, controller: slot.module.name }, 'controller stop failed');
    } finally {
      clearTimeout(timer);
      slot.state = 'stopped';
    }
  }

  private async guard(slot: Slot, what: string, fn: () => Promise<void>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      this.noteError(slot, err);
      this.log.error({ err, controller: slot.module.name }, `controller ${what} failed`);
      return false;
    }
  }

  private safeReady(slot: Slot): Readiness {
    try {
      return slot.controller.ready();
    } catch (err) {
      return { ready: false, reason: `ready() threw: ${errorMessage(err)}` };
    }
  }

  private noteError(slot: Slot, err: unknown): void {
    slot.errors += 1;
    slot.lastError = { message: errorMessage(err), at: new Date().toISOString() };
    this.errorCounter.inc({ controller: slot.module.name });
  }
}

function inertController(name: ControllerName): Controller {
  return {
    name,
    start: () => Promise.resolve(),
    reload: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    status: () => ({}),
    ready: () => ({ ready: false, reason: 'not constructed' }),
  };
}
