/**
 * flannel's etcd registry (an OverlayRegistry, see registry.ts): one etcd client, the peer source
 * (every other host's lease) and, when `overlay.etcd.register`, the keeper of this VM's own lease.
 * The keeper tells the source which lease is ours; the source tells the keeper when ours vanished.
 */
import type { Etcd3 } from 'etcd3';
import type { Registry } from 'prom-client';
import type { Readiness } from '../agent/controller.js';
import type { OverlayConfig } from '../config/schema.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { createEtcdClient } from './etcd-client.js';
import { EtcdLeaseKeeper } from './etcd-lease-keeper.js';
import { readPersistedSubnet } from './etcd-lease-store.js';
import { registryMetrics, type RegistryMetrics } from './etcd-metrics.js';
import type { NetworkConfig, OverlayExpectations } from './etcd-network-config.js';
import { EtcdPeerSource } from './etcd-peer-source.js';
import type { NetworkBounds, Peer } from './peer-source.js';
import type { LocalVtep, OverlayRegistry } from './registry.js';

export interface EtcdRegistryOptions {
  overlay: OverlayConfig;
  stateDir: string;
  log: Logger;
  metrics?: Registry;
  /** A ready client (tests, benchmarks); otherwise built from overlay.etcd. */
  client?: Etcd3;
  /** Passed to the keeper; default checks the host's interfaces. */
  isLocalAddress?: (address: string) => boolean;
  /** Lease keepalive period override (tests). */
  keepaliveMs?: number;
  /** Our subnet changed after a re-acquisition (the VTEP address must follow); default: logged as an error. */
  onSubnetChange?: (subnet: string, previous: string) => void;
}

export class EtcdRegistry implements OverlayRegistry {
  readonly name = 'etcd';
  readonly remote = true;
  readonly source: EtcdPeerSource;
  private keeper: EtcdLeaseKeeper | undefined;
  private publicIP: string | undefined;
  private local: LocalVtep | undefined;
  private net: NetworkConfig | undefined;
  private readonly metrics: RegistryMetrics | undefined;

  static async create(options: EtcdRegistryOptions): Promise<EtcdRegistry> {
    return new EtcdRegistry(options, options.client ?? (await createEtcdClient(options.overlay.etcd)), options.client === undefined);
  }

  private constructor(
    private readonly options: EtcdRegistryOptions,
    readonly client: Etcd3,
    private readonly ownsClient: boolean,
  ) {
    const { overlay } = options;
    this.metrics = options.metrics === undefined ? undefined : registryMetrics(options.metrics, this);
    this.source = new EtcdPeerSource({
      client,
      prefix: overlay.etcd.prefix,
      overlay: expectations(overlay),
      log: options.log.child({ component: 'etcd-source' }),
      ownSubnet: () => this.keeper?.heldSubnet ?? (overlay.subnet === '' ? undefined : overlay.subnet),
      ownPublicIP: () => this.publicIP,
      onOwnLease: (present) => this.keeper?.noteOwnLease(present),
      // After an outage, whichever loop reaches etcd first wakes the other: back within one round trip.
      onConnected: () => this.keeper?.retryNow(),
      onNetworkConfig: (net) => (this.net = net),
      onApplied: (cause) => this.metrics?.applied.inc({ cause }),
    });
  }

  /** What every lease must fit (the peer gate checks), once the network config was read. */
  network(): NetworkBounds | undefined {
    return this.source.network();
  }

  start(onChange: (peers: readonly Peer[]) => void): Promise<void> {
    return this.source.start(onChange);
  }

  stop(): Promise<void> {
    return this.source.stop();
  }

  /** With `register`, this VM's lease; without, overlay.subnet, which must then be set. */
  async register(local: LocalVtep): Promise<string> {
    const subnet = await this.ownSubnet(local);
    if (subnet === undefined) {
      throw new AgentError(ErrorCode.ConfigInvalid, 'overlay.subnet is empty and overlay.etcd.register is false: set this host\'s subnet, or let the agent register a lease');
    }
    return subnet;
  }

  /**
   * The own-subnet step. With `register`, acquires (or takes back) this VM's lease for `local` and
   * keeps it alive; without, returns overlay.subnet (or undefined). Rejects with a clear error when
   * no subnet may be held.
   */
  async ownSubnet(local: LocalVtep): Promise<string | undefined> {
    const { overlay } = this.options;
    this.publicIP = local.publicIP;
    if (!overlay.etcd.register) {
      this.source.refresh();
      return overlay.subnet === '' ? undefined : overlay.subnet;
    }
    const held = this.keeper?.heldSubnet;
    if (held !== undefined && this.local?.publicIP === local.publicIP && this.local.vtepMAC === local.vtepMAC) return held;
    await this.keeper?.stop();
    this.local = local;
    const keeper = new EtcdLeaseKeeper({
      client: this.client,
      prefix: overlay.etcd.prefix,
      overlay: expectations(overlay),
      stateDir: this.options.stateDir,
      log: this.options.log.child({ component: 'etcd-lease' }),
      publicIP: local.publicIP,
      vtepMAC: local.vtepMAC,
      ...(this.options.isLocalAddress === undefined ? {} : { isLocalAddress: this.options.isLocalAddress }),
      ...(this.options.keepaliveMs === undefined ? {} : { keepaliveMs: this.options.keepaliveMs }),
      onSubnetChange: (subnet, previous) => {
        this.source.refresh();
        if (this.options.onSubnetChange !== undefined) this.options.onSubnetChange(subnet, previous);
        else this.options.log.error({ subnet, previous }, 'our lease had to move to another subnet; restart the agent so the VTEP address follows');
      },
      onWrite: (kind) => this.metrics?.writes.inc({ kind }),
      onAcquired: () => this.source.retryNow(),
    });
    this.keeper = keeper;
    try {
      const subnet = await keeper.acquire();
      this.source.refresh();
      return subnet;
    } catch (err) {
      // etcd unreachable (not a refusal): come up with the subnet we held before, whose lease
      // outlives short outages, and take the lease back in the background once etcd answers.
      const fallback = AgentError.is(err) ? '' : overlay.subnet !== '' ? overlay.subnet : await readPersistedSubnet(this.options.stateDir);
      if (fallback === '') throw err;
      this.options.log.warn({ err: errorMessage(err), subnet: fallback }, 'etcd unreachable; using the last held subnet until the lease can be renewed');
      keeper.acquireInBackground(fallback);
      this.source.refresh();
      return fallback;
    }
  }

  /** Whether a keeper holds (or is taking back) our lease. */
  get registering(): boolean {
    return this.keeper !== undefined;
  }

  ready(): Readiness {
    const source = this.source.ready();
    if (!source.ready) return source;
    if (this.options.overlay.etcd.register && this.keeper !== undefined) return this.keeper.ready();
    return source;
  }

  status(): Record<string, unknown> {
    return {
      ...this.source.status(),
      ...(this.net === undefined ? {} : { network: this.net.network, subnetLen: this.net.subnetLen }),
      lease: this.keeper === undefined ? (this.options.overlay.etcd.register ? 'not yet acquired' : 'not registering') : this.keeper.status(),
    };
  }

  async close(): Promise<void> {
    await this.source.stop();
    await this.keeper?.stop();
    if (this.ownsClient) this.client.close();
    this.metrics?.remove();
  }
}

function expectations(overlay: OverlayConfig): OverlayExpectations {
  return { vni: overlay.vni, port: overlay.port, network: overlay.network, subnet: overlay.subnet };
}
