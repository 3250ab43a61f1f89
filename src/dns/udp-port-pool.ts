/**
 * Which socket an upstream UDP query leaves from: a pool of at most UDP_POOL_SIZE per server, one
 * picked at random (CSPRNG) per query. A socket takes at most UDP_PORT_QUERIES queries, and new
 * ones for at most UDP_PORT_MS after it opened; then it is retired (a fresh socket, on a fresh
 * random port, takes its place when its slot is next picked) and closes as soon as the last query
 * on it settles. An idle socket past its time is closed by the sweeper. The rules live here, apart
 * from the sockets, so they can be checked with explicit times (test/unit/dns-udp-port-pool.test.ts).
 */

/** Sockets per server, at most (a power of two: a slot is picked from 16 random bits). */
export const UDP_POOL_SIZE = 32;
/** Queries one socket (one source port) carries before it is retired. */
export const UDP_PORT_QUERIES = 64;
/** How long, ms, a socket takes new queries after it opened. */
export const UDP_PORT_MS = 1000;

/** What the pool needs of a socket. */
export interface PooledPort {
  readonly openedAt: number;
  /** Queries sent from it so far (counted by the pool). */
  uses: number;
  /** Takes no more queries; closes once none waits on it. */
  retired: boolean;
  /** Queries waiting on it for their reply. */
  readonly waiting: number;
  close(): void;
}

export class PortPool<P extends PooledPort> {
  private readonly slots: (P | undefined)[];
  /** Retired sockets some query still waits on. */
  private readonly draining = new Set<P>();

  constructor(
    /** Opens a socket at `now` (may throw: EMFILE...). */
    private readonly openPort: (now: number) => P,
    readonly size = UDP_POOL_SIZE,
    readonly maxUses = UDP_PORT_QUERIES,
    readonly maxAgeMs = UDP_PORT_MS,
  ) {
    this.slots = new Array<P | undefined>(size).fill(undefined);
  }

  /** Sockets open: in the pool, or retired and still waited on. */
  get open(): number {
    let n = this.draining.size;
    for (const p of this.slots) if (p !== undefined) n += 1;
    return n;
  }

  /** The socket for one more query at `now`, from the slot `random` picks (any non-negative integer). */
  take(now: number, random: number): P {
    const slot = random % this.size;
    let port = this.slots[slot];
    if (port !== undefined && !this.usable(port, now)) {
      this.retire(port);
      port = undefined;
    }
    if (port === undefined) {
      port = this.openPort(now);
      this.slots[slot] = port;
    }
    port.uses += 1;
    return port;
  }

  /** Whether `port` may take another query at `now`. */
  usable(port: P, now: number): boolean {
    return !port.retired && port.uses < this.maxUses && now - port.openedAt < this.maxAgeMs;
  }

  /** Takes `port` out of the pool (its time is up, or it failed); closed now if nothing waits on it. */
  retire(port: P): void {
    const slot = this.slots.indexOf(port);
    if (slot >= 0) this.slots[slot] = undefined;
    if (port.retired) return;
    port.retired = true;
    if (port.waiting === 0) port.close();
    else this.draining.add(port);
  }

  /** A query on `port` settled (it no longer counts in `port.waiting`). */
  settled(port: P): void {
    if (port.waiting > 0) return;
    if (port.retired) {
      if (this.draining.delete(port)) port.close();
    } else if (port.uses >= this.maxUses) {
      this.retire(port);
    }
  }

  /** Retires the idle sockets whose time is up (called by the sweeper). */
  expire(now: number): void {
    for (const port of this.slots) {
      if (port !== undefined && port.waiting === 0 && !this.usable(port, now)) this.retire(port);
    }
  }

  closeAll(): void {
    for (const port of this.slots) if (port !== undefined) this.retire(port);
    for (const port of this.draining) port.close();
    this.draining.clear();
  }
}
