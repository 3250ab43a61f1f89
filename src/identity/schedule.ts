/**
 * When to rotate, pure: no clock, no timers, no randomness of its own (callers pass `now` and a
 * random source), so every rule is unit-testable.
 */
import { retryDelay, type BackoffPolicy } from '../agent/reconciler.js';

/** What the installed files amount to, as seen by inspect(). */
export type Assessment =
  | { state: 'missing'; reason: string }
  | { state: 'unreadable'; reason: string }
  | { state: 'expired'; reason: string }
  | { state: 'other-identity'; reason: string }
  /** Valid, but cert-chain.pem does not verify to root-cert.pem (e.g. a kill between the root and pair updates). */
  | { state: 'untrusted'; reason: string }
  | { state: 'valid'; serial: string; notAfter: number; issuedAt: number };

export interface RotationPolicy {
  graceRatio: number;
  graceJitter: number;
}

export const BACKOFF_INITIAL_MS = 500;
export const BACKOFF_MAX_MS = 60_000;
const BACKOFF: BackoffPolicy = { initialMs: BACKOFF_INITIAL_MS, maxMs: BACKOFF_MAX_MS, jitter: 0.2 };

/**
 * Istio's rotateTime: NotAfter − (ratio ± jitter)·lifetime, where lifetime runs from the local
 * issue time (CAs backdate NotBefore to absorb clock skew, which would otherwise shorten the wait).
 */
export function rotationTime(cert: { notAfter: number; issuedAt: number }, policy: RotationPolicy, random: () => number): number {
  const sign = random() < 0.5 ? -1 : 1;
  const ratio = Math.min(1, Math.max(0, policy.graceRatio + sign * random() * policy.graceJitter));
  const lifetime = Math.max(0, cert.notAfter - cert.issuedAt);
  return cert.notAfter - ratio * lifetime;
}

/** Exponential backoff with ±20 % jitter: 0.5 s, 1 s, 2 s … capped at 60 s, never giving up (the reconciler's formula). */
export function backoffDelay(consecutiveFailures: number, random: () => number): number {
  return retryDelay(consecutiveFailures, BACKOFF, random);
}

/** What the scheduler remembers between ticks. */
export interface ScheduleState {
  consecutiveFailures: number;
  /** Earliest next attempt after a failure. */
  retryAt?: number;
  /** Rotation time of the installed certificate, with the serial it was computed for. */
  rotateAt?: number;
  rotateSerial?: string;
}

export type Decision = { action: 'rotate'; why: string } | { action: 'wait'; until: number; why: string };

/** The next step given the installed certificate; returns the (possibly updated) state too. */
export function decide(state: ScheduleState, installed: Assessment, now: number, policy: RotationPolicy, random: () => number): { state: ScheduleState; decision: Decision } {
  if (state.retryAt !== undefined && now < state.retryAt) {
    return { state, decision: { action: 'wait', until: state.retryAt, why: `backing off after ${state.consecutiveFailures} failure(s)` } };
  }
  if (installed.state !== 'valid') {
    return { state, decision: { action: 'rotate', why: `certificate ${installed.state}: ${installed.reason}` } };
  }
  let next = state;
  if (state.rotateAt === undefined || state.rotateSerial !== installed.serial) {
    next = { ...state, rotateAt: rotationTime(installed, policy, random), rotateSerial: installed.serial };
  }
  const rotateAt = next.rotateAt ?? now;
  if (now >= rotateAt) return { state: next, decision: { action: 'rotate', why: 'rotation time reached' } };
  return { state: next, decision: { action: 'wait', until: rotateAt, why: 'certificate valid' } };
}

export function afterSuccess(): ScheduleState {
  return { consecutiveFailures: 0 };
}

export function afterFailure(state: ScheduleState, now: number, random: () => number): ScheduleState {
  const consecutiveFailures = state.consecutiveFailures + 1;
  return { ...state, consecutiveFailures, retryAt: now + backoffDelay(consecutiveFailures, random) };
}
