/**
 * The identity controller: keeps a valid workload certificate for this VM in identity.certDir,
 * issued by istiod or legacy Citadel. Wires the rotation loop to the CA, the store and the clock of
 * its boundary (boundary.ts), and reports status, readiness and metrics.
 */
import type { Controller, ControllerContext, Readiness } from '../agent/controller.js';
import type { IdentityDetails } from '../status/status-document.js';
import type { Config, IdentityConfig } from '../config/schema.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import type { Owner } from '../host/owner.js';
import type { CertFiles, IdentityBoundary } from './boundary.js';
import type { CertDirFinding } from './cert-store.js';
import { createIdentityMetrics, type FailureReason, type IdentityMetrics } from './metrics.js';
import { runOnRotate } from './on-rotate.js';
import { inspectStored, type Inspection } from './inspect.js';
import { lookupOwner } from '../host/owner.js';
import { rotateOnce } from './rotate.js';
import { RotationLoop } from './rotation-loop.js';
import type { Assessment } from './schedule.js';
import { spiffeId } from './spiffe.js';
import { systemIdentityBoundary } from './system-boundary.js';
import { readConfiguredRoot } from './trust.js';

/** Longest sleep between looks at the installed files. */
export const MAX_SLEEP_MS = 60_000;
/** How many certDir findings /status keeps (the log has all). */
const MAX_FINDINGS = 20;

function iso(ms: number | undefined): string | undefined {
  return ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString();
}

function failureReason(err: unknown): FailureReason {
  if (AgentError.is(err)) {
    if (err.code === ErrorCode.CaUnavailable) return 'ca_unavailable';
    if (err.code === ErrorCode.CaAnswerRejected) return 'answer_rejected';
    if (err.code === ErrorCode.CaRootUnsafe) return 'ca_root_unsafe';
    if (err.code === ErrorCode.CertDirUnsafe) return 'install';
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('E') ? 'install' : 'other';
}

export class IdentityController implements Controller {
  readonly name = 'identity' as const;
  private config: IdentityConfig;
  private store: CertFiles;
  private owner: Owner | undefined;
  private readonly loop: RotationLoop;
  private readonly metrics: IdentityMetrics;
  private inspection: Inspection | undefined;
  private lastError: { message: string; at: string } | undefined;
  private lastRotation: { at: string; serial: string; auth: string } | undefined;
  private readonly findings: (CertDirFinding & { at: string })[] = [];
  private reason = 'starting';

  constructor(
    config: Config,
    private readonly ctx: ControllerContext,
    private readonly boundary: IdentityBoundary = systemIdentityBoundary(),
  ) {
    this.config = config.identity;
    this.store = this.newStore();
    this.metrics = createIdentityMetrics(ctx.metrics, () => ({ notAfter: this.inspection?.info?.notAfter, consecutiveFailures: this.loop.state.consecutiveFailures }));
    this.loop = new RotationLoop({
      clock: boundary.clock,
      random: () => boundary.random(),
      maxSleepMs: MAX_SLEEP_MS,
      policy: () => ({ graceRatio: this.config.graceRatio, graceJitter: this.config.graceJitter }),
      inspect: () => this.inspect(),
      rotate: (signal) => this.rotate(signal),
      onDecision: (decision, assessment) => {
        this.reason = decision.why;
        if (decision.action === 'rotate') this.ctx.log.info({ why: decision.why, state: assessment.state }, 'requesting a certificate');
      },
      onFailure: (err, state) => {
        this.lastError = { message: errorMessage(err), at: this.nowIso() };
        this.metrics.failures.inc({ reason: failureReason(err) });
        const retryIn = state.retryAt === undefined ? undefined : Math.round(state.retryAt - this.boundary.clock.now());
        this.ctx.log.warn({ err, consecutiveFailures: state.consecutiveFailures, retryInMs: retryIn }, 'certificate rotation failed; keeping the installed certificate');
      },
    });
  }

  async start(): Promise<void> {
    await this.resolveOwner();
    const notes = await this.store.repair();
    if (notes.length > 0) this.ctx.log.warn({ repaired: notes }, 'certificate directory repaired');
    await this.inspect();
    // Said at start, not only when a rotation is due (which may be hours away).
    await readConfiguredRoot(this.config.ca.rootCert).catch((err: unknown) => {
      if (AgentError.is(err) && err.code === ErrorCode.CaRootUnsafe) {
        this.lastError = { message: err.message, at: this.nowIso() };
        this.ctx.log.error({ err }, 'identity.ca.rootCert is refused; no certificate can be requested until it is fixed');
      }
    });
    this.loop.start();
  }

  async reload(config: Config): Promise<void> {
    const next = config.identity;
    const previous = this.config;
    this.config = next;
    if (next.certDir !== previous.certDir) {
      this.store = this.newStore();
      await this.store.repair();
    }
    if (next.owner !== previous.owner) await this.resolveOwner();
    // A new CA address or identity deserves an attempt now rather than after the old backoff.
    this.loop.kick(JSON.stringify(next.ca) !== JSON.stringify(previous.ca) || JSON.stringify(next.spiffe) !== JSON.stringify(previous.spiffe));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Resolves when no look or rotation is running (the loop sleeps on its timer). */
  settled(): Promise<void> {
    return this.loop.idle();
  }

  ready(): Readiness {
    const assessment = this.currentAssessment();
    if (assessment.state === 'valid') return { ready: true, reason: `certificate valid until ${iso(assessment.notAfter) ?? '?'}` };
    return { ready: false, reason: `${assessment.state}: ${assessment.reason}` };
  }

  status(): IdentityDetails {
    const info = this.inspection?.info;
    const state = this.loop.state;
    return {
      spiffeId: spiffeId(this.config.spiffe),
      protocol: this.config.ca.protocol,
      caAddress: this.config.ca.address,
      certDir: this.config.certDir,
      certificate: this.currentAssessment().state,
      ...(info?.spiffeId !== undefined && info.spiffeId !== spiffeId(this.config.spiffe) ? { installedSpiffeId: info.spiffeId } : {}),
      serial: info?.serial,
      notBefore: iso(info?.notBefore),
      notAfter: iso(info?.notAfter),
      issuedAt: iso(info?.issuedAt),
      rotateAt: info !== undefined && state.rotateSerial === info.serial ? iso(state.rotateAt) : undefined,
      nextRotation: iso(this.loop.nextWake),
      schedule: this.reason,
      consecutiveFailures: state.consecutiveFailures,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      ...(this.lastRotation === undefined ? {} : { lastRotation: this.lastRotation }),
      ...(this.findings.length === 0 ? {} : { certDirFindings: this.findings }),
    };
  }

  private nowIso(): string {
    return new Date(this.boundary.clock.now()).toISOString();
  }

  private currentAssessment(): Assessment {
    const assessment = this.inspection?.assessment ?? { state: 'missing', reason: 'not inspected yet' };
    // Time passes between looks: a certificate valid at the last look may have expired since.
    if (assessment.state === 'valid' && this.boundary.clock.now() >= assessment.notAfter) return { state: 'expired', reason: `expired at ${iso(assessment.notAfter) ?? '?'}` };
    return assessment;
  }

  private newStore(): CertFiles {
    return this.boundary.certStore(this.config.certDir, { owner: () => this.owner, report: (finding) => this.noteFinding(finding) });
  }

  private noteFinding(finding: CertDirFinding): void {
    this.findings.push({ ...finding, at: this.nowIso() });
    if (this.findings.length > MAX_FINDINGS) this.findings.shift();
    const what = finding.entry === '.' ? `identity.certDir ${this.config.certDir} was` : `identity.certDir: ${finding.entry} is`;
    this.ctx.log.warn({ certDir: this.config.certDir, ...finding }, `${what} ${finding.problem}; ${finding.action}`);
  }

  private async resolveOwner(): Promise<void> {
    const name = this.config.owner;
    this.owner = undefined;
    if (name === '') return;
    const owner = await lookupOwner(name);
    if (owner === undefined) {
      this.ctx.log.warn({ owner: name }, 'identity.owner is not a known user; certificate files keep the agent\'s ownership (create the user or change identity.owner)');
      return;
    }
    const uid = process.getuid?.() ?? 0;
    if (uid !== 0 && uid !== owner.uid) {
      this.ctx.log.warn({ owner: name }, 'not running as root: cannot hand certificate files to identity.owner; they keep the agent\'s ownership');
      return;
    }
    this.owner = owner;
  }

  private async inspect(): Promise<Assessment> {
    try {
      this.inspection = inspectStored(await this.store.read(), spiffeId(this.config.spiffe), this.boundary.clock.now());
    } catch (err) {
      this.inspection = { assessment: { state: 'unreadable', reason: errorMessage(err) } };
    }
    return this.inspection.assessment;
  }

  private async rotate(signal: AbortSignal): Promise<void> {
    const config = this.config;
    const outcome = await rotateOnce(config, this.store, this.boundary.caClient(config.ca), () => this.boundary.clock.now(), signal);
    const total = (outcome.ms.keyAndCsr + outcome.ms.ca + outcome.ms.install) / 1000;
    this.metrics.rotations.inc({ auth: outcome.auth });
    this.metrics.duration.observe(total);
    this.lastRotation = { at: this.nowIso(), serial: outcome.serial, auth: outcome.auth };
    this.lastError = undefined;
    this.ctx.log.info(
      { serial: outcome.serial, notAfter: iso(outcome.notAfter), auth: outcome.auth, rootUpdated: outcome.rootWritten, ms: outcome.ms },
      outcome.rootIsNew ? 'certificate installed; the CA root changed and root-cert.pem was updated' : 'certificate installed',
    );
    await this.inspect();
    if (config.onRotate !== '' && (outcome.pairWritten || outcome.rootWritten)) await this.runHook(config);
  }

  private async runHook(config: IdentityConfig): Promise<void> {
    try {
      const result = await runOnRotate(config.onRotate, { MNA_CERT_DIR: config.certDir, MNA_SPIFFE_ID: spiffeId(config.spiffe) });
      if (result.code === 0) this.ctx.log.info({ command: config.onRotate }, 'onRotate command ran');
      else this.ctx.log.warn({ command: config.onRotate, code: result.code, signal: result.signal, output: result.output }, 'onRotate command failed; the certificate is installed anyway');
    } catch (err) {
      this.ctx.log.warn({ err, command: config.onRotate }, 'onRotate command could not be started');
    }
  }
}
