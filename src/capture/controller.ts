/**
 * The capture controller: builds the rules from config and host facts, applies them, verifies
 * them against iptables-save, repairs drift on a timer, and removes them on stop when
 * capture.cleanupOnStop (and for `run --cleanup-only`). Start after a crash is idempotent: the
 * first apply replaces whatever our chains hold.
 */
import type { Controller, ControllerContext, Readiness } from '../agent/controller.js';
import type { Config } from '../config/schema.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { captureInput, type InputNotes } from './input.js';
import { detectBinaries, directExec, Iptables, type Exec } from './iptables.js';
import { captureMetrics, type CaptureMetrics } from './metrics.js';
import type { Owner } from '../host/owner.js';
import { lookupAgentGid, lookupProxyOwner } from './owner.js';
import { readNameservers } from './resolv-conf.js';
import { buildRules, type RuleSet } from './rules.js';

export interface CaptureDeps {
  exec?: Exec;
  /** The gid whose traffic is the agent's own (default: capture.agentGroup, which this process must hold). */
  agentGid?: number;
  passwdFiles?: { passwd: string; group: string };
}

interface Built {
  rules: RuleSet;
  owner: Owner;
  agentGid: number;
  nameservers: string[];
  resolvConf: string;
  notes: InputNotes;
}

async function build(config: Config, deps: CaptureDeps): Promise<Built> {
  const owner = await lookupProxyOwner(config.capture.proxyUser, deps.passwdFiles);
  const resolv = config.capture.dns ? await readNameservers(config.stateDir) : { file: '', nameservers: [] };
  const agentGid = deps.agentGid ?? (await lookupAgentGid(config.capture.agentGroup, deps.passwdFiles?.group));
  const { input, notes } = captureInput(config, { owner, agentGid, nameservers: resolv.nameservers });
  return { rules: buildRules(input), owner, agentGid, nameservers: input.dns?.nameservers.slice() ?? [], resolvConf: resolv.file, notes };
}

function ruleCount(rules: RuleSet, family: 4 | 6): number {
  return rules[family].reduce((n, t) => n + t.rules.length, 0);
}

export class CaptureController implements Controller {
  readonly name = 'capture' as const;
  private config: Config;
  private readonly log: Logger;
  private readonly metrics: CaptureMetrics;
  private iptables: Iptables | undefined;
  private built: Built | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private applied = false;
  private verified = false;
  private lastApply: string | undefined;
  private lastVerify: string | undefined;
  private lastDrift: string[] = [];
  private driftRepairs = 0;
  private errors = 0;
  private lastError: { message: string; at: string } | undefined;
  private stopped = false;

  constructor(
    config: Config,
    private readonly ctx: ControllerContext,
    private readonly deps: CaptureDeps = {},
  ) {
    this.config = config;
    this.log = ctx.log;
    this.metrics = captureMetrics(ctx.metrics);
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.iptables = new Iptables(await detectBinaries(this.deps.exec ?? directExec), this.deps.exec ?? directExec);
    this.log.info({ backend: this.iptables.binaries.backend, binaries: this.iptables.binaries.restore }, 'iptables backend detected');
    try {
      await this.serial(() => this.reconcile(this.config, 'start'));
    } catch (err) {
      // A busy xtables lock or a proxy user created a moment later must not need a restart:
      // report it (not ready, with the reason) and let the resync timer retry.
      this.ctx.reportError(err);
    }
    this.schedule();
  }

  async reload(config: Config): Promise<void> {
    // Build first: a config whose proxy user cannot be resolved keeps the running rules.
    await this.serial(async () => {
      const next = await build(config, this.deps);
      this.config = config;
      await this.reconcile(config, 'reload', next);
    });
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.queue.catch(() => undefined);
    if (!this.config.capture.cleanupOnStop || this.iptables === undefined) return;
    const iptables = this.iptables;
    await this.serial(async () => {
      await iptables.cleanup();
      this.applied = false;
      this.verified = false;
      this.metrics.verified.set(0);
      this.metrics.rules.set({ family: 'ipv4' }, 0);
      this.metrics.rules.set({ family: 'ipv6' }, 0);
      this.log.info('capture rules removed');
    });
  }

  status(): Record<string, unknown> {
    const rules = this.built?.rules;
    return {
      backend: this.iptables?.binaries.backend ?? null,
      rulesApplied: this.applied && rules !== undefined ? { ipv4: ruleCount(rules, 4), ipv6: ruleCount(rules, 6) } : { ipv4: 0, ipv6: 0 },
      verified: this.verified,
      lastApply: this.lastApply ?? null,
      lastVerify: this.lastVerify ?? null,
      lastDrift: this.lastDrift,
      driftRepairs: this.driftRepairs,
      captureErrors: this.errors,
      ...(this.lastError === undefined ? {} : { lastCaptureError: this.lastError }),
      proxy: this.built === undefined ? null : { user: this.config.capture.proxyUser, uid: this.built.owner.uid, gid: this.built.owner.gid },
      agent: this.built === undefined ? null : { group: this.config.capture.agentGroup, gid: this.built.agentGid },
      dns: this.config.capture.dns ? { resolvConf: this.built?.resolvConf ?? null, nameservers: this.built?.nameservers ?? [], skipped: this.built?.notes.skippedNameservers ?? [] } : { enabled: false },
      ...(this.built !== undefined && this.built.notes.droppedInbound.length > 0 ? { inboundPortsNeverCaptured: this.built.notes.droppedInbound } : {}),
    };
  }

  ready(): Readiness {
    if (this.verified) return { ready: true };
    return { ready: false, reason: this.lastError?.message ?? 'capture rules not verified yet' };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.serial(() => this.reconcile(this.config, 'resync'))
        .catch((err: unknown) => this.ctx.reportError(err))
        .finally(() => this.schedule());
    }, this.config.capture.resync);
    this.timer.unref();
  }

  private async reconcile(config: Config, why: 'start' | 'reload' | 'resync', prebuilt?: Built): Promise<void> {
    const iptables = this.iptables;
    if (iptables === undefined || this.stopped) return;
    try {
      let next = prebuilt;
      if (next === undefined) {
        try {
          next = await build(config, this.deps);
        } catch (err) {
          // On a timer, a host lookup failing must not drop working rules: keep the last build.
          if (why !== 'resync' || this.built === undefined) throw err;
          this.noteError(err);
          next = this.built;
        }
      }
      this.built = next;
      const { plans, mismatch } = await iptables.applyAll(next.rules);
      const changed = plans.filter((p) => !p.inSync);
      const now = new Date();
      this.lastVerify = now.toISOString();
      this.metrics.lastVerify.set(now.getTime() / 1000);
      for (const plan of changed) this.metrics.transactions.inc({ family: `ipv${plan.family}`, table: plan.table });
      if (changed.length > 0) {
        this.lastApply = now.toISOString();
        this.lastDrift = changed.flatMap((p) => p.drift);
        if (why === 'resync' && this.applied) {
          this.driftRepairs += 1;
          this.metrics.driftRepairs.inc();
          this.log.warn({ drift: this.lastDrift }, 'capture rules drifted; rewritten');
        } else {
          this.log.info({ why, changes: this.lastDrift }, 'capture rules applied');
        }
      }
      if (mismatch.length > 0) {
        throw new AgentError(ErrorCode.IptablesFailed, `installed rules differ from the built ones after apply: ${mismatch.join('; ')}`);
      }
      this.applied = true;
      this.verified = true;
      this.metrics.verified.set(1);
      this.metrics.rules.set({ family: 'ipv4' }, ruleCount(next.rules, 4));
      this.metrics.rules.set({ family: 'ipv6' }, ruleCount(next.rules, 6));
    } catch (err) {
      this.verified = false;
      this.metrics.verified.set(0);
      this.noteError(err);
      throw err;
    }
  }

  private noteError(err: unknown): void {
    this.errors += 1;
    this.metrics.errors.inc();
    this.lastError = { message: errorMessage(err), at: new Date().toISOString() };
  }
}
