/**
 * The informer's bookkeeping for /status and readiness: whether it has a complete list (synced),
 * whether its watch is up (connected, and why not), counters, and the objects it refused.
 */

export interface InformerState {
  /** A complete list has been applied (the object map is meaningful, even if the watch is down). */
  synced: boolean;
  /** The last list or watch request was answered; false during an outage. */
  connected: boolean;
  /** Why not connected (or not synced yet). */
  reason?: string;
}

export interface InformerStatus extends InformerState {
  resourceVersion: string;
  objects: number;
  /** Complete lists: the first one plus relists. */
  lists: number;
  /** Relists after 410 Gone or a broken watch stream. */
  relists: number;
  /** Lists restarted because a continue token expired (410 between pages). */
  listRestarts: number;
  /** Watches reopened after an error or an outage. */
  reconnects: number;
  bookmarks: number;
  events: number;
  /** Objects and lines refused (not kept): their count, the last reason, and refused keys → why. */
  dropped: number;
  lastDropped?: string;
  invalid: Record<string, string>;
  lastError?: string;
  lastChange?: string;
}

export interface DroppedReport {
  problem: string;
  key?: string;
}

const MAX_INVALID_KEYS = 100;

export class StatusBook {
  readonly status: InformerStatus = {
    synced: false,
    connected: false,
    reason: 'not listed yet',
    resourceVersion: '',
    objects: 0,
    lists: 0,
    relists: 0,
    listRestarts: 0,
    reconnects: 0,
    bookmarks: 0,
    events: 0,
    dropped: 0,
    invalid: {},
  };
  private readonly invalidKeys = new Map<string, string>();

  /** Records a refusal; returns whether it is worth a log line (the first ones, then 1 in 100). */
  drop(report: DroppedReport): boolean {
    this.status.dropped += 1;
    this.status.lastDropped = report.key === undefined ? report.problem : `${report.key}: ${report.problem}`;
    if (report.key !== undefined) this.markInvalid(report.key, report.problem);
    return this.status.dropped <= 20 || this.status.dropped % 100 === 0;
  }

  markInvalid(key: string, problem: string): void {
    this.invalidKeys.delete(key);
    this.invalidKeys.set(key, problem);
    // Bounded: a hostile server must not grow this without limit; the oldest entries go first.
    while (this.invalidKeys.size > MAX_INVALID_KEYS) {
      const oldest = this.invalidKeys.keys().next().value;
      if (oldest === undefined) break;
      this.invalidKeys.delete(oldest);
    }
  }

  clearInvalid(key?: string): void {
    if (key === undefined) this.invalidKeys.clear();
    else this.invalidKeys.delete(key);
  }

  /** Sets connectivity; returns whether the public state changed. */
  setState(next: Partial<InformerState>): boolean {
    const before = `${this.status.synced}/${this.status.connected}/${this.status.reason ?? ''}`;
    Object.assign(this.status, next);
    if (this.status.connected && this.status.synced) delete this.status.reason;
    return before !== `${this.status.synced}/${this.status.connected}/${this.status.reason ?? ''}`;
  }

  snapshot(): InformerStatus {
    return { ...this.status, invalid: Object.fromEntries(this.invalidKeys) };
  }
}
