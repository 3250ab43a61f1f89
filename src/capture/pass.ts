/**
 * What the capture controller asks its reconciler for, pure: a pass is a start, a reload (with
 * the rules already built from the new config) or a resync. Requests made while a pass runs fold
 * into one; the strongest reason wins, so a first install is never counted as a drift repair.
 */
import type { Built } from './build.js';

export type PassWhy = 'start' | 'reload' | 'resync';

export interface CapturePass {
  why: PassWhy;
  /** Rules built by reload from the new config (a pass without them builds from the current one). */
  built?: Built;
  /** A caller (reload) receives this pass's failure; otherwise nobody awaits it and it is reported. */
  toCaller?: true;
}

const STRENGTH: Record<PassWhy, number> = { resync: 0, reload: 1, start: 2 };

export function mergePasses(pending: CapturePass, next: CapturePass): CapturePass {
  const why = STRENGTH[next.why] > STRENGTH[pending.why] ? next.why : pending.why;
  const built = next.built ?? pending.built;
  const toCaller = pending.toCaller ?? next.toCaller;
  return { why, ...(built === undefined ? {} : { built }), ...(toCaller === undefined ? {} : { toCaller }) };
}

/** A failed pass is retried from the current config (a fresh build reads the host again), awaited by nobody. */
export function retryOf(failed: CapturePass): CapturePass {
  return { why: failed.why };
}
