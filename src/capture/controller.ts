/**
 * The capture controller: builds the rules from config and host facts, applies them, verifies
 * them against iptables-save, repairs drift every capture.resync, retries failures with backoff
 * (the shared reconciler serialises all of it), and removes the rules on stop when
 * capture.cleanupOnStop (and for `run --cleanup-only`). Start after a crash is idempotent: the
 * first apply replaces whatever our chains hold.
 */
import type { Controller, ControllerContext, Readiness } from '../agent/controller.js';
import { Reconciler } from '../agent/reconciler.js';
import type { CaptureDetails } from '../status/status-document.js';
import type { Config } from '../config/schema.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CaptureBoundary, CaptureTables } from './boundary.js';
import { buildCapture, ruleCount, type Built } from './build.js';
import { captureMetrics, type CaptureMetrics } from './metrics.js';
import { mergePasses, retryOf, type CapturePass } from './pass.js';
import { systemCaptureBoundary } from './system-boundary.js';

export class CaptureController implements Controller {
  readonly name = 'capture' as const;
  private config: Config;
  private readonly log: Logger;
  private readonly metrics: CaptureMetrics;
  private readonly reconciler: Reconciler<CapturePass>;
  private tables: CaptureTables | undefined;
  private built: Built | undefined;
  private applied = false;
  private verified = false;
  private lastApply: string | undefined;
  private lastVerify: string | undefined;
  private lastDrift: string[] = [];
  private driftRepairs = 0;
  private errors = 0;
  private lastError: { message: string; at: string } | undefined;

  constructor(
    config: Config,
    private readonly ctx: ControllerContext,
    private readonly boundary: CaptureBoundary = systemCaptureBoundary(),
  ) {
    this.config = config;
    this.log = ctx.log;
    this.metrics = captureMetrics(ctx.metrics);
    this.reconciler = new Reconciler<CapturePass>({
      run: (pass) => this.reconcile(pass),
      merge: mergePasses,
      retryRequest: retryOf,
      resync: { everyMs: config.capture.resync, request: () => ({ why: 'resync' }) },
      clock: boundary.clock,
      onPass: (record) => {
        // A reload's failure goes back to its caller (the supervisor); the others (start, timers,
        // retries) are awaited by nobody: report them. Either way the retry is armed.
        if (!record.ok && record.request.toCaller !== true) this.ctx.reportError(record.error);
      },
    });
  }

  async start(): Promise<void> {
    this.tables = await this.boundary.openTables();
    this.log.info({ backend: this.tables.backend }, 'iptables backend detected');
    this.reconciler.start();
    // A busy xtables lock or a proxy user created a moment later must not need a restart: the
    // controller starts not ready (with the reason) and the reconciler retries with backoff.
    await this.reconciler.request({ why: 'start' });
  }

  async reload(config: Config): Promise<void> {
    // Build first: a config whose proxy user cannot be resolved keeps the running rules.
    const built = await buildCapture(config, this.boundary.host);
    this.config = config;
    this.reconciler.setResync(config.capture.resync);
    const result = await this.reconciler.request({ why: 'reload', built, toCaller: true });
    if (!result.ok) throw result.error;
  }

  async stop(): Promise<void> {
    // Waits for a running pass; queued ones and timers are dropped.
    await this.reconciler.stop();
    const tables = this.tables;
    if (!this.config.capture.cleanupOnStop || tables === undefined) return;
    await tables.cleanup();
    this.applied = false;
    this.verified = false;
    this.metrics.verified.set(0);
    this.metrics.rules.set({ family: 'ipv4' }, 0);
    this.metrics.rules.set({ family: 'ipv6' }, 0);
    this.log.info('capture rules removed');
  }

  status(): CaptureDetails {
    const rules = this.built?.rules;
    const retry = this.reconciler.report().nextRetry;
    return {
      backend: this.tables?.backend ?? null,
      rulesApplied: this.applied && rules !== undefined ? { ipv4: ruleCount(rules, 4), ipv6: ruleCount(rules, 6) } : { ipv4: 0, ipv6: 0 },
      verified: this.verified,
      lastApply: this.lastApply ?? null,
      lastVerify: this.lastVerify ?? null,
      lastDrift: this.lastDrift,
      driftRepairs: this.driftRepairs,
      captureErrors: this.errors,
      ...(this.lastError === undefined ? {} : { lastCaptureError: this.lastError }),
      ...(retry === undefined ? {} : { nextRetry: retry.at }),
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

  private async reconcile({ why, built }: CapturePass): Promise<void> {
    const tables = this.tables;
    if (tables === undefined) return;
    try {
      let next = built;
      if (next === undefined) {
        try {
          next = await buildCapture(this.config, this.boundary.host);
        } catch (err) {
          // A host lookup failing (on the timer, or on a retry) must not drop working rules:
          // keep the last build. Only a first build has nothing to fall back on.
          if (this.built === undefined) throw err;
          this.noteError(err);
          next = this.built;
        }
      }
      this.built = next;
      const { plans, mismatch } = await tables.apply(next.rules);
      const changed = plans.filter((p) => !p.inSync);
      const now = new Date(this.boundary.clock.now());
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
    this.lastError = { message: errorMessage(err), at: new Date(this.boundary.clock.now()).toISOString() };
  }
}
