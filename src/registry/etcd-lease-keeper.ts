/**
 * Holds this VM's lease in flannel's registry so flannel nodes program the way back: one key per
 * transaction (flanneld reads one event per watch response), value exactly as flanneld writes it,
 * attached to a 24 h etcd lease kept alive, so a dead VM's lease expires everywhere. The key is
 * created only if absent, or rewritten only when it already carries our own address and has not
 * changed since we read it: never another host's lease. If our lease vanishes it is re-acquired.
 */
import { networkInterfaces } from 'node:os';
import type { Etcd3 } from 'etcd3';
import type { Readiness } from '../agent/controller.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { backoffDelay } from './etcd-backoff.js';
import { readNetworkConfig } from './etcd-config-reader.js';
import { encodeLease, subnetKey, subnetsPrefix } from './etcd-lease-format.js';
import { persistLease, readPersistedLease } from './etcd-lease-store.js';
import { listLeases, liveLease, revokeIfKeyless, writeLease } from './etcd-lease-txn.js';
import type { OverlayExpectations } from './etcd-network-config.js';
import { chooseSubnet } from './etcd-subnet-choice.js';

export const LEASE_TTL_SECONDS = 24 * 60 * 60;
/** flannel's raceRetries. */
const RACE_RETRIES = 10;

export interface LeaseKeeperOptions {
  client: Etcd3;
  prefix: string;
  overlay: OverlayExpectations;
  stateDir: string;
  log: Logger;
  publicIP: string;
  vtepMAC: string;
  ttlSeconds?: number;
  /** Keepalive period; default a third of the TTL (what etcd's Go client does). */
  keepaliveMs?: number;
  /** Whether an address is assigned to this host; default: os.networkInterfaces(). */
  isLocalAddress?: (address: string) => boolean;
  /** The held subnet changed after a re-acquisition (the VTEP address must follow). */
  onSubnetChange?: (subnet: string, previous: string) => void;
  /** Counts etcd write transactions, for metrics. */
  onWrite?: (kind: 'create' | 'takeover' | 'lost-race') => void;
  /** Our lease was written: etcd answers again. */
  onAcquired?: () => void;
}

export function isLocalAddress(address: string): boolean {
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((a) => a.address === address));
}

export class EtcdLeaseKeeper {
  private subnet = '';
  private leaseId = '';
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private reacquiring: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** True once etcd confirmed our lease (false while we run on a fallback subnet). */
  private leased = false;
  private lastError: string | undefined;
  private acquiredAt: string | undefined;
  private lastKeepalive: string | undefined;
  private acquisitions = 0;
  private readonly ttl: number;
  private readonly keepaliveMs: number;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.ttl = options.ttlSeconds ?? LEASE_TTL_SECONDS;
    this.keepaliveMs = options.keepaliveMs ?? (this.ttl * 1000) / 3;
  }

  get heldSubnet(): string | undefined {
    return this.subnet === '' ? undefined : this.subnet;
  }

  /**
   * Acquires (or takes back) this VM's lease and starts keeping it alive; resolves with the subnet.
   * Rejects with an AgentError when no subnet may be taken (say which and why), or with etcd's error.
   */
  async acquire(): Promise<string> {
    const { publicIP, vtepMAC } = this.options;
    const local = this.options.isLocalAddress ?? isLocalAddress;
    if (!local(publicIP)) {
      throw new AgentError(ErrorCode.ConfigInvalid, `the underlay address ${publicIP} is not assigned to this host; refusing to publish another host's address in the registry (set overlay.underlay to this VM's address)`);
    }
    const { client, prefix } = this.options;
    for (let attempt = 0; attempt < RACE_RETRIES && !this.stopped; attempt += 1) {
      const net = await readNetworkConfig(client, prefix, this.options.overlay);
      const leases = await listLeases(client, prefix);
      // What we held: in this process, else what the previous run persisted.
      const before = this.leaseId !== '' ? { subnet: this.subnet, leaseId: this.leaseId } : await readPersistedLease(this.options.stateDir);
      const choice = chooseSubnet({ net, publicIP, configured: this.options.overlay.subnet, persisted: before.subnet, leases });
      if (choice.kind === 'blocked') throw new AgentError(ErrorCode.ConfigInvalid, choice.reason);
      const key = subnetKey(prefix, choice.subnet);
      // The same key again: keep its etcd lease while it lives (a restart leaves no orphan behind).
      const reuse = choice.subnet === before.subnet && (await liveLease(client, before.leaseId, this.ttl)) ? before.leaseId : undefined;
      const leaseId = await writeLease(client, prefix, choice, encodeLease({ publicIP, vni: net.vni, vtepMAC }), this.ttl, reuse);
      if (leaseId === undefined) {
        // Someone else got there first: choose again from a fresh listing.
        this.options.onWrite?.('lost-race');
        this.options.log.info({ subnet: choice.subnet, attempt }, 'lost a lease race; choosing again');
        continue;
      }
      this.options.onWrite?.(choice.kind);
      const previous = this.subnet;
      this.subnet = choice.subnet;
      this.leaseId = leaseId;
      this.acquisitions += 1;
      this.leased = true;
      this.acquiredAt = new Date().toISOString();
      this.lastError = undefined;
      // Our previous etcd lease now carries no key, or only our old subnet's: revoke it (deleting that key).
      if (before.leaseId !== '' && before.leaseId !== leaseId) await client.leaseClient.leaseRevoke({ ID: before.leaseId }).catch(() => undefined);
      // A key taken over from a run whose state was lost: its old etcd lease is keyless now.
      const replaced = leases.find((l) => l.subnet === choice.subnet)?.leaseId;
      if (replaced !== undefined && replaced !== leaseId && replaced !== before.leaseId) await revokeIfKeyless(client, replaced);
      await persistLease(this.options.stateDir, choice.subnet, key, leaseId).catch((err: unknown) => this.options.log.warn({ err: errorMessage(err) }, 'could not persist the lease in stateDir'));
      this.options.log.info({ subnet: choice.subnet, how: choice.why, key, etcdLease: reuse === undefined ? 'granted' : 'kept' }, 'holding overlay lease');
      // A kept etcd lease gets its full TTL back now; a fresh one has it already.
      this.scheduleKeepalive(reuse === undefined ? this.keepaliveMs : 0);
      if (previous !== '' && previous !== choice.subnet) this.options.onSubnetChange?.(choice.subnet, previous);
      this.options.onAcquired?.();
      return choice.subnet;
    }
    throw new AgentError(ErrorCode.EtcdUnavailable, `could not acquire a lease after ${RACE_RETRIES} lost races under ${subnetsPrefix(prefix)}; retrying later`);
  }

  /**
   * Used when etcd was unreachable at start: assume `subnet` (held before) and keep trying to
   * acquire, with backoff, until etcd answers. The held subnet is reported meanwhile.
   */
  acquireInBackground(subnet: string): void {
    this.subnet = subnet;
    this.lastError = 'etcd unreachable at start; lease not yet renewed';
    if (this.reacquiring !== undefined) return;
    this.reacquiring = this.retryAcquire().finally(() => (this.reacquiring = undefined));
  }

  /**
   * The registry view of our own key (from the peer source). When it is gone we check etcd directly
   * (the view may predate our write) and re-acquire if it really vanished.
   */
  noteOwnLease(present: boolean): void {
    if (present || this.subnet === '' || this.stopped || this.reacquiring !== undefined) return;
    this.reacquiring = this.reacquireIfGone().finally(() => (this.reacquiring = undefined));
  }

  /** Cuts a retry delay short: etcd answered another request of this process. */
  retryNow(): void {
    if (!this.leased) this.wake?.();
  }

  async stop(): Promise<void> {
    // Like flanneld, leave the key: a restart takes it back, and a VM that never returns expires.
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.wake?.();
    await this.reacquiring;
  }

  ready(): Readiness {
    if (!this.leased) return { ready: false, reason: this.lastError ?? 'no lease yet' };
    return { ready: true };
  }

  status(): Record<string, unknown> {
    return {
      subnet: this.subnet === '' ? null : this.subnet,
      leased: this.leased,
      key: this.subnet === '' ? null : subnetKey(this.options.prefix, this.subnet),
      publicIP: this.options.publicIP,
      acquisitions: this.acquisitions,
      ...(this.acquiredAt === undefined ? {} : { acquiredAt: this.acquiredAt }),
      ...(this.lastKeepalive === undefined ? {} : { lastKeepalive: this.lastKeepalive }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  private async reacquireIfGone(): Promise<void> {
    const key = subnetKey(this.options.prefix, this.subnet);
    try {
      if ((await this.options.client.get(key).string()) !== null) return;
    } catch {
      // Cannot tell: try to acquire, which re-reads everything.
    }
    this.options.log.warn({ key }, 'our lease vanished from the registry; acquiring it again');
    await this.retryAcquire();
  }

  private async retryAcquire(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        await this.acquire();
        return;
      } catch (err) {
        this.lastError = errorMessage(err);
        const delay = Math.max(backoffDelay(attempt), AgentError.is(err) ? 30_000 : 0);
        attempt += 1;
        this.options.log.warn({ err: this.lastError, retryInMs: delay }, 'lease re-acquisition failed');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  private scheduleKeepalive(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.keepalive(), ms);
    this.timer.unref();
  }

  private async keepalive(): Promise<void> {
    try {
      const ttl = await this.keepaliveOnce(this.leaseId);
      if (ttl <= 0) {
        this.leased = false;
        this.options.log.warn({ subnet: this.subnet }, 'our etcd lease expired; acquiring the subnet again');
        this.noteOwnLease(false);
        return;
      }
      this.lastKeepalive = new Date().toISOString();
      this.scheduleKeepalive(this.keepaliveMs);
    } catch (err) {
      // etcd unreachable: retry soon; the lease has hours of TTL left.
      this.lastError = `lease keepalive failed: ${errorMessage(err)}`;
      this.scheduleKeepalive(Math.min(this.keepaliveMs, 10_000));
    }
  }

  /** One keepalive round trip; resolves with the remaining TTL (≤ 0: the lease is gone). */
  private async keepaliveOnce(id: string): Promise<number> {
    const stream = await this.options.client.leaseClient.leaseKeepAlive();
    try {
      return await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new AgentError(ErrorCode.EtcdUnavailable, 'keepalive timed out')), 5000);
        stream.on('data', (res) => {
          clearTimeout(timer);
          resolve(Number(res.TTL));
        });
        stream.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        stream.write({ ID: id });
      });
    } finally {
      stream.end();
    }
  }
}
