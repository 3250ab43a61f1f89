/**
 * The status page's short history: DNS queries per second and cache hit ratio over the last ten
 * minutes. A counter reading every 10 s into a fixed ring (61 readings make 60 intervals), on one
 * unref'd interval timer: no other wakeups, nothing kept on the hot path, and no sample at all
 * is taken between readings. The arithmetic (historyPoints) is pure.
 */
import type { HistoryPoint, StatusHistory } from './status-document.js';

export const HISTORY_INTERVAL_MS = 10_000;
export const HISTORY_READINGS = 61;

/** The DNS proxy's cumulative counters at one moment. */
export interface DnsReading {
  queries: number;
  cacheHits: number;
  cacheMisses: number;
}

export interface Reading {
  /** Unix time, ms (for the chart's axis). */
  at: number;
  /** Monotonic ms (for the rate: a wall-clock step must not make one). */
  mono: number;
  /** null while the DNS proxy is not running. */
  dns: DnsReading | null;
}

/** A fixed-size ring: pushing past capacity drops the oldest. */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i += 1) {
      const item = this.items[(start + i) % this.capacity];
      if (item !== undefined) out.push(item);
    }
    return out;
  }
}

/** Growth of a counter; a counter that went down was re-created (controller restarted) and counts from 0. */
function growth(before: number, after: number): number {
  return after >= before ? after - before : after;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** One point per pair of consecutive readings: the rates over the interval between them. */
export function historyPoints(readings: readonly Reading[]): HistoryPoint[] {
  const points: HistoryPoint[] = [];
  for (let i = 1; i < readings.length; i += 1) {
    const a = readings[i - 1];
    const b = readings[i];
    if (a === undefined || b === undefined) continue;
    const seconds = (b.mono - a.mono) / 1000;
    if (a.dns === null || b.dns === null || !(seconds > 0)) {
      points.push({ at: b.at, dnsQps: null, dnsCacheHitRatio: null });
      continue;
    }
    const hits = growth(a.dns.cacheHits, b.dns.cacheHits);
    const lookups = hits + growth(a.dns.cacheMisses, b.dns.cacheMisses);
    points.push({
      at: b.at,
      dnsQps: round(growth(a.dns.queries, b.dns.queries) / seconds, 2),
      dnsCacheHitRatio: lookups === 0 ? null : round(hits / lookups, 3),
    });
  }
  return points;
}

export interface HistoryRecorderOptions {
  read: () => DnsReading | null;
  intervalMs?: number;
  readings?: number;
  now?: () => number;
  monotonic?: () => number;
}

export class HistoryRecorder {
  private readonly ring: Ring<Reading>;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: HistoryRecorderOptions) {
    this.intervalMs = options.intervalMs ?? HISTORY_INTERVAL_MS;
    this.ring = new Ring(options.readings ?? HISTORY_READINGS);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    // Never the reason the process stays up.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one reading now (the timer's job; tests call it to fill the ring). */
  sample(): void {
    let dns: DnsReading | null;
    try {
      dns = this.options.read();
    } catch {
      dns = null;
    }
    this.ring.push({ at: (this.options.now ?? Date.now)(), mono: (this.options.monotonic ?? performance.now.bind(performance))(), dns });
  }

  history(): StatusHistory {
    const seconds = this.intervalMs / 1000;
    return { intervalSeconds: seconds, windowSeconds: seconds * (this.ring.capacity - 1), points: historyPoints(this.ring.toArray()) };
  }
}
