/**
 * A PeerSource over flannel's etcd registry: every vxlan lease under `<prefix>/subnets/` except
 * this VM's own becomes a peer. The full set is delivered on start and after every change; while
 * etcd is unreachable nothing is delivered (the controller keeps the last peers programmed) and
 * the source reports not ready with the reason.
 */
import type { Etcd3 } from 'etcd3';
import { errorMessage, isRefusal, type AgentError } from '../errors.js';
import type { Readiness } from '../agent/controller.js';
import type { Logger } from '../log.js';
import { readNetworkConfig } from './etcd-config-reader.js';
import { decodeLease, leaseToPeer, subnetFromKey, subnetsPrefix } from './etcd-lease-format.js';
import { leaseBounds, type NetworkConfig, type OverlayExpectations } from './etcd-network-config.js';
import { PrefixFollower, type KeyValue } from './etcd-prefix-follower.js';
import type { NetworkBounds, Peer, PeerSource } from './peer-source.js';

export interface EtcdPeerSourceOptions {
  client: Etcd3;
  prefix: string;
  overlay: OverlayExpectations;
  log: Logger;
  /** This VM's subnet once known (leases for it are ours, never peers). */
  ownSubnet?: () => string | undefined;
  /** The watch is (re)connected: etcd answers again. */
  onConnected?: () => void;
  /** This VM's underlay address: a lease carrying it is ours too (flannel's rule). */
  ownPublicIP?: () => string | undefined;
  /** After every list or change: whether our own lease (by ownSubnet) is present, for the lease keeper. */
  onOwnLease?: (present: boolean) => void;
  /** The validated network config, each time it is (re)read. */
  onNetworkConfig?: (net: NetworkConfig) => void;
  /** Counts etcd responses applied, for metrics. */
  onApplied?: (cause: 'list' | 'watch') => void;
}

/** A lease as last decoded: its value and revisions, and the peer made of them (reused while they hold). */
type Decoded = { value: string; create: string; mod: string; peer?: Peer };

/**
 * Peers from the registry's entries, sorted by subnet: every lease key with its create revision
 * (claim order) and mod revision. Our own lease (by subnet; by public IP while our subnet is not
 * known, flannel's rule) and non-vxlan leases are skipped; a lease that cannot be read is
 * delivered as invalid, for the gate to refuse and report. `cache` (key → last decoded lease)
 * spares re-parsing, and re-allocating, unchanged leases on every event.
 */
export function peersFromEntries(
  prefix: string,
  entries: ReadonlyMap<string, KeyValue>,
  own: { subnet?: string | undefined; publicIP?: string | undefined },
  cache: Map<string, Decoded> = new Map(),
): Peer[] {
  const peers: Peer[] = [];
  for (const [key, kv] of entries) {
    let decoded = cache.get(key);
    if (decoded === undefined || decoded.value !== kv.value || decoded.create !== kv.createRevision || decoded.mod !== kv.modRevision) {
      const peer = decoded !== undefined && decoded.value === kv.value ? decoded.peer : decode(prefix, key, kv.value);
      decoded = { value: kv.value, create: kv.createRevision, mod: kv.modRevision, ...(peer === undefined ? {} : { peer: { ...peer, order: Number(kv.createRevision), revision: kv.modRevision } }) };
      cache.set(key, decoded);
    }
    const peer = decoded.peer;
    if (peer === undefined || peer.subnet === own.subnet) continue;
    if (own.subnet === undefined && peer.publicIP === own.publicIP) continue;
    peers.push(peer);
  }
  if (cache.size > entries.size) for (const key of cache.keys()) if (!entries.has(key)) cache.delete(key);
  return peers.sort((a, b) => (a.subnet < b.subnet ? -1 : a.subnet > b.subnet ? 1 : (a.key ?? '') < (b.key ?? '') ? -1 : 1));
}

function decode(prefix: string, key: string, value: string): Peer | undefined {
  const subnet = subnetFromKey(prefix, key);
  if (subnet === undefined) return undefined;
  try {
    const peer = leaseToPeer(subnet, decodeLease(value));
    return peer === undefined ? undefined : { ...peer, key };
  } catch (err) {
    return { subnet, publicIP: '', vtepMAC: '', source: 'etcd', key, invalid: errorMessage(err) };
  }
}

export class EtcdPeerSource implements PeerSource {
  readonly name = 'etcd';
  readonly remote = true;
  private readonly follower: PrefixFollower;
  private onChange: ((peers: readonly Peer[]) => void) | undefined;
  private delivered = false;
  private peers: readonly Peer[] = [];
  private connected = false;
  private listed = false;
  private reason = 'not started';
  private net: NetworkConfig | undefined;
  private readonly decoded = new Map<string, Decoded>();
  private firstOutcome: ((err?: unknown) => void) | undefined;
  private lastChangeAt: string | undefined;

  constructor(private readonly options: EtcdPeerSourceOptions) {
    this.follower = new PrefixFollower(
      options.client,
      subnetsPrefix(options.prefix),
      {
        beforeList: async () => {
          const net = await readNetworkConfig(options.client, options.prefix, options.overlay);
          this.net = net;
          options.onNetworkConfig?.(net);
        },
        onChange: (entries, cause) => {
          this.listed = true;
          options.onApplied?.(cause);
          this.recompute(entries);
        },
        onState: (connected, reason, error) => {
          this.connected = connected;
          if (reason !== undefined) this.reason = reason;
          if (connected) options.onConnected?.();
          if (connected) this.firstOutcome?.();
          else this.firstOutcome?.(new FirstFailure(reason ?? 'etcd unreachable', isRefusal(error) ? error : undefined));
        },
      },
      options.log,
    );
  }

  async start(onChange: (peers: readonly Peer[]) => void): Promise<void> {
    this.onChange = onChange;
    // Wait for the first list and watch, or the first failure: a clean start delivers peers before start()
    // returns; a config mismatch rejects it; an unreachable etcd leaves a not-ready source that
    // keeps retrying in the background.
    const outcome = new Promise<unknown>((resolve) => (this.firstOutcome = resolve));
    this.follower.start();
    const err = await outcome;
    this.firstOutcome = undefined;
    if (err instanceof FirstFailure && err.configError !== undefined) {
      await this.follower.stop();
      throw err.configError;
    }
  }

  async stop(): Promise<void> {
    this.onChange = undefined;
    await this.follower.stop();
  }

  /** Cuts a reconnect delay short: etcd answered another request of this process. */
  retryNow(): void {
    if (!this.connected) this.follower.retryNow();
  }

  /** Re-evaluates own-lease exclusion (e.g. after this VM's subnet became known) without etcd I/O. */
  refresh(): void {
    if (this.listed) this.recompute(this.follower.snapshot());
  }

  current(): readonly Peer[] {
    return this.peers;
  }

  /** What every lease must fit (the peer gate checks), once the network config was read. */
  network(): NetworkBounds | undefined {
    return this.net === undefined ? undefined : leaseBounds(this.net);
  }

  ready(): Readiness {
    if (this.listed && this.connected) return { ready: true };
    return { ready: false, reason: this.reason };
  }

  status(): Record<string, unknown> {
    const f = this.follower.status();
    return {
      prefix: this.options.prefix,
      connected: this.connected,
      synced: this.listed,
      peers: this.peers.length,
      revision: f.revision,
      lists: f.lists,
      compactions: f.compactions,
      reconnects: f.reconnects,
      ...(this.lastChangeAt === undefined ? {} : { lastChange: this.lastChangeAt }),
      ...(this.connected ? {} : { reason: this.reason }),
    };
  }

  private recompute(entries: ReadonlyMap<string, KeyValue>): void {
    const ownSubnet = this.options.ownSubnet?.();
    const peers = peersFromEntries(this.options.prefix, entries, { subnet: ownSubnet, publicIP: this.options.ownPublicIP?.() }, this.decoded);
    if (ownSubnet !== undefined) {
      this.options.onOwnLease?.([...entries.keys()].some((key) => subnetFromKey(this.options.prefix, key) === ownSubnet));
    }
    if (samePeers(peers, this.peers) && this.delivered) return;
    this.delivered = true;
    this.peers = peers;
    this.lastChangeAt = new Date().toISOString();
    this.onChange?.(peers);
  }
}

/** Carries a first failure to start() (a value, never thrown); refusals of ours are fatal, others are not. */
class FirstFailure {
  constructor(
    readonly reason: string,
    readonly configError: AgentError | undefined,
  ) {}
}

function samePeers(a: readonly Peer[], b: readonly Peer[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((p, i) => {
    const q = b[i];
    return p === q || (q !== undefined && p.key === q.key && p.subnet === q.subnet && p.publicIP === q.publicIP && p.vtepMAC === q.vtepMAC && p.order === q.order && p.invalid === q.invalid);
  });
}
