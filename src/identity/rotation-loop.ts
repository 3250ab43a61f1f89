/**
 * The rotation loop: inspect the installed certificate, ask the pure scheduler what to do, rotate
 * or sleep, repeat. Effects (inspect, rotate) and time (clock, random) are injected. Looks run one
 * at a time through the agent's shared reconciler (a kick during a look becomes one more look);
 * the wake-up time and the retry backoff stay with the pure scheduler, because they follow the
 * certificate (NotAfter minus the grace) rather than a fixed period. Sleeps are capped so a
 * deleted file, a suspended VM or a clock jump is noticed within maxSleepMs.
 */
import type { Clock } from '../agent/clock.js';
import { Reconciler } from '../agent/reconciler.js';
import { afterFailure, afterSuccess, decide, type Assessment, type Decision, type RotationPolicy, type ScheduleState } from './schedule.js';

export interface RotationLoopDeps {
  clock: Clock;
  random: () => number;
  policy(): RotationPolicy;
  inspect(): Promise<Assessment>;
  /** One complete rotation (key, CSR, CA, verify, install); rejects on any failure. */
  rotate(signal: AbortSignal): Promise<void>;
  onDecision?(decision: Decision, assessment: Assessment): void;
  onSuccess?(): void;
  onFailure?(err: unknown, state: ScheduleState): void;
  maxSleepMs: number;
}

export class RotationLoop {
  private schedule: ScheduleState = { consecutiveFailures: 0 };
  private timer: unknown;
  private stopped = true;
  private abort: AbortController | undefined;
  private wakeAt: number | undefined;
  private readonly looks: Reconciler<true>;

  constructor(private readonly deps: RotationLoopDeps) {
    this.looks = new Reconciler<true>({
      run: () => this.tick(),
      merge: () => true,
      // A look never fails (a failed rotation is the scheduler's to retry): nothing to retry here.
      retryRequest: () => undefined,
      clock: deps.clock,
    });
  }

  get state(): Readonly<ScheduleState> {
    return this.schedule;
  }

  /** When the loop will next look (a rotation or retry is due then, or a periodic check). */
  get nextWake(): number | undefined {
    return this.wakeAt;
  }

  start(): void {
    this.stopped = false;
    this.looks.start();
    this.kick();
  }

  /** Re-evaluate now (config reload); resetBackoff also forgets the retry wait. */
  kick(resetBackoff = false): void {
    if (this.stopped) return;
    if (resetBackoff && this.schedule.retryAt !== undefined) this.schedule = { ...this.schedule, retryAt: undefined };
    this.clearTimer();
    void this.looks.request(true);
  }

  /** Resolves when no look is running or queued, e.g. for tests on a fake clock. */
  idle(): Promise<void> {
    return this.looks.settled();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    this.abort?.abort();
    await this.looks.stop();
  }

  private async tick(): Promise<void> {
    const { clock } = this.deps;
    // A kick queued during the previous look finds that look's timer armed: this look re-arms it.
    this.clearTimer();
    let assessment: Assessment;
    try {
      assessment = await this.deps.inspect();
    } catch (err) {
      assessment = { state: 'unreadable', reason: err instanceof Error ? err.message : String(err) };
    }
    if (this.stopped) return;
    const { state, decision } = decide(this.schedule, assessment, clock.now(), this.deps.policy(), this.deps.random);
    this.schedule = state;
    this.deps.onDecision?.(decision, assessment);
    if (decision.action === 'wait') {
      this.sleepUntil(decision.until);
      return;
    }
    this.abort = new AbortController();
    try {
      await this.deps.rotate(this.abort.signal);
      this.schedule = afterSuccess();
      this.deps.onSuccess?.();
    } catch (err) {
      if (this.stopped) return;
      this.schedule = afterFailure(this.schedule, clock.now(), this.deps.random);
      this.deps.onFailure?.(err, this.schedule);
    } finally {
      this.abort = undefined;
    }
    // Look again at once: the new certificate sets the next rotation, a failure the retry time.
    if (!this.stopped) void this.looks.request(true);
  }

  private sleepUntil(until: number): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const ms = Math.max(0, Math.min(until - now, this.deps.maxSleepMs));
    this.wakeAt = until;
    this.timer = this.deps.clock.setTimer(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.deps.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
  }
}
