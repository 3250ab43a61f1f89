/**
 * Formatting and geometry for the status page, pure. The page's script (page-script.ts) does the
 * same in the browser; tests compare what both show.
 */

/** "2026-11-01 12:34:56Z" for an ISO time or Unix ms; "" when there is none or it is not a time. */
export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '';
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) return typeof value === 'string' ? value : '';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** "3d 4h", "2h 5m", "4m 10s", "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** "in 4m 10s" or "4m 10s ago" relative to now; "" without a time. */
export function formatRelative(value: string | null | undefined, now: number): string {
  const ms = value === null || value === undefined ? NaN : Date.parse(value);
  if (!Number.isFinite(ms)) return '';
  const delta = (ms - now) / 1000;
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

/** A fraction 0..1 as "42.5%". */
export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`;
}

export interface LifetimeBar {
  /** 0..1 of the lifetime elapsed now. */
  elapsed: number;
  /** 0..1 of the lifetime at which rotation is due; undefined when not known or outside it. */
  rotation: number | undefined;
  remainingSeconds: number;
}

/** Where now and the rotation point sit between issue and expiry; undefined without both ends. */
export function lifetimeBar(issued: string | undefined, expires: string | undefined, rotation: string | undefined, now: number): LifetimeBar | undefined {
  const start = Date.parse(issued ?? '');
  const end = Date.parse(expires ?? '');
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return undefined;
  const at = (ms: number): number => Math.min(1, Math.max(0, (ms - start) / (end - start)));
  const rot = Date.parse(rotation ?? '');
  return { elapsed: at(now), rotation: Number.isFinite(rot) && rot >= start && rot <= end ? at(rot) : undefined, remainingSeconds: (end - now) / 1000 };
}

export const CHART_WIDTH = 300;
export const CHART_HEIGHT = 60;

/** A scale top at or above `max`: 1, 2 or 5 times a power of ten. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/**
 * SVG polyline point lists for a series over [now - window, now]; a null value breaks the line
 * (the proxy was not running, or nothing to divide). Coordinates rounded to 0.1.
 */
export function chartLines(points: readonly { at: number; value: number | null }[], top: number, windowMs: number, now: number): string[] {
  const lines: string[] = [];
  let current: string[] = [];
  const r = (n: number): number => Math.round(n * 10) / 10;
  for (const p of points) {
    if (p.value === null || p.at < now - windowMs) {
      if (current.length > 0) lines.push(current.join(' '));
      current = [];
      continue;
    }
    const x = r(Math.min(1, Math.max(0, 1 - (now - p.at) / windowMs)) * CHART_WIDTH);
    const y = r(CHART_HEIGHT - 2 - Math.min(1, p.value / top) * (CHART_HEIGHT - 4));
    current.push(`${x},${y}`);
  }
  if (current.length > 0) lines.push(current.join(' '));
  // A single reading is a line too short to see: draw it as a short dash.
  return lines.map((l) => (l.includes(' ') ? l : `${l} ${l.replace(/^([\d.]+)/, (x) => String(Math.max(0, Number(x) - 3)))}`));
}
