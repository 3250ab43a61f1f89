/**
 * flannel's kube subnet manager as the overlay's registry: one API client, the network config
 * (net-conf.json), this VM's Node (registrar.ts) and every other Node as a peer (peer-source.ts).
 * The source tells the registrar when our Node changed; the registrar's podCIDR is this VM's
 * subnet. With the API unreachable at start, the agent comes up with the podCIDR its Node held
 * (stateDir) and registers once the API answers; the overlay meanwhile programs the last peers.
 */
import { hostname } from 'node:os';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { Readiness } from '../../agent/controller.js';
import type { OverlayConfig } from '../../config/schema.js';
import { AgentError, ErrorCode, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { BackoffOptions } from '../../kube/backoff.js';
import type { KubeClient } from '../../kube/client.js';
import type { KubernetesConfig } from '../../kube/config-schema.js';
import { createKubeClient } from '../../kube/connect.js';
import type { NetworkConfig } from '../etcd-network-config.js';
import type { NetworkBounds, Peer } from '../peer-source.js';
import type { LocalVtep, OverlayRegistry } from '../registry.js';
import { flannelNames } from './annotations.js';
import { nodeName as nodeNameSchema } from './config.js';
import { kubeRegistryMetrics, type KubeRegistryMetrics } from './metrics.js';
import { podCIDRBounds } from './network-config.js';
import { readKubeNetworkConfig, type NetworkSource } from './network-reader.js';
import { KubePeerSource } from './peer-source.js';
import { NodeRegistrar, isTransient } from './registrar.js';
import { loadOrCreateOwner, readHeldPodCIDR, writeHeldPodCIDR } from './state.js';

export interface KubeRegistryOptions {
  overlay: OverlayConfig;
  kubernetes: KubernetesConfig;
  stateDir: string;
  log: Logger;
  metrics?: MetricsRegistry;
  /** A ready client (tests, benchmarks); otherwise made from `kubernetes`. */
  client?: KubeClient;
  /** Default node name when overlay.kubernetes.nodeName is empty; default the hostname. */
  hostname?: string;
  watchTimeoutSeconds?: number;
  backoff?: BackoffOptions;
  pollMs?: number;
}

/** overlay.kubernetes.nodeName, or the hostname when it is a valid Node name. */
export function resolveNodeName(configured: string, host: string = hostname()): string {
  if (configured !== '') return configured;
  const name = host.toLowerCase();
  if (!nodeNameSchema.safeParse(name).success || name === '') {
    throw new AgentError(ErrorCode.ConfigInvalid, `the hostname "${host}" is not a valid Node name; set overlay.kubernetes.nodeName, e.g. vm-nginx01`);
  }
  return name;
}

export class KubeRegistry implements OverlayRegistry {
  readonly name = 'kubernetes';
  readonly remote = true;
  readonly source: KubePeerSource;
  readonly registrar: NodeRegistrar;
  readonly nodeName: string;
  private netConf: NetworkSource | undefined;
  private readonly metrics: KubeRegistryMetrics | undefined;
  private reading: Promise<NetworkSource> | undefined;

  static async create(options: KubeRegistryOptions): Promise<KubeRegistry> {
    const nodeName = resolveNodeName(options.overlay.kubernetes.nodeName, options.hostname);
    const owner = await loadOrCreateOwner(options.stateDir);
    const client = options.client ?? (await createKubeClient(options.kubernetes));
    return new KubeRegistry(options, client, options.client === undefined, nodeName, owner);
  }

  private constructor(
    private readonly options: KubeRegistryOptions,
    readonly client: KubeClient,
    private readonly ownsClient: boolean,
    nodeName: string,
    owner: string,
  ) {
    const { overlay, log } = options;
    this.nodeName = nodeName;
    const names = flannelNames(overlay.kubernetes.annotationPrefix);
    // Read at collection time only, when the source below exists.
    const metrics = options.metrics === undefined ? undefined : kubeRegistryMetrics(options.metrics, this);
    this.metrics = metrics;
    this.registrar = new NodeRegistrar({
      client,
      nodeName,
      owner,
      names,
      vni: overlay.vni,
      configured: overlay.subnet,
      allocatorWaitMs: overlay.kubernetes.allocatorWait,
      log: log.child({ component: 'kube-node' }),
      network: async () => (await this.readNetwork()).net,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      onWrite: (kind) => metrics?.writes.inc({ kind }),
      onSubnet: (subnet) => {
        void writeHeldPodCIDR(options.stateDir, nodeName, subnet).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'could not persist our podCIDR'));
      },
    });
    this.source = new KubePeerSource({
      client,
      names,
      ownName: nodeName,
      log: log.child({ component: 'kube-nodes' }),
      network: () => (this.netConf === undefined ? undefined : podCIDRBounds(this.netConf.net)),
      onOwnNode: (node) => this.registrar.observe(node),
      onApplied: (cause) => metrics?.applied.inc({ cause }),
      onConnected: () => {
        this.registrar.retryNow();
        if (this.netConf === undefined) void this.readNetwork().then(() => this.source.refresh(), () => undefined);
      },
      ...(options.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: options.watchTimeoutSeconds }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    });
  }

  /** flannel's network config, once read. */
  get net(): NetworkConfig | undefined {
    return this.netConf?.net;
  }

  /** What every podCIDR must fit (the peer gate checks), once the network config was read. */
  network(): NetworkBounds | undefined {
    return this.source.network();
  }

  start(onChange: (peers: readonly Peer[]) => void): Promise<void> {
    return this.source.start(onChange);
  }

  stop(): Promise<void> {
    return this.source.stop();
  }

  /**
   * Registers this VM's Node for `local` and returns its podCIDR. Refusals (a Node we do not own,
   * a config mismatch) reject; an unreachable API falls back to the podCIDR held before (or
   * overlay.subnet) and registers in the background.
   */
  async register(local: LocalVtep): Promise<string> {
    try {
      return await this.registrar.register(local);
    } catch (err) {
      if (!isTransient(err)) throw err;
      const held = await readHeldPodCIDR(this.options.stateDir, this.nodeName);
      const fallback = held !== '' ? held : this.options.overlay.subnet;
      if (fallback === '') throw err;
      this.options.log.warn({ err: errorMessage(err), subnet: fallback }, 'kubernetes API unreachable; using the podCIDR our Node held until it can be registered');
      this.registrar.registerInBackground(local, fallback);
      return fallback;
    }
  }

  ready(): Readiness {
    const source = this.source.ready();
    if (!source.ready) return source;
    return this.registrar.ready();
  }

  status(): Record<string, unknown> {
    return {
      ...this.source.status(),
      ...(this.netConf === undefined ? {} : { network: this.netConf.net.network, networkFrom: this.netConf.where }),
      node: this.registrar.status(),
    };
  }

  /** Ends following and the Node's upkeep; the Node itself stays (deleted only by `leave`). */
  async close(): Promise<void> {
    await this.source.stop();
    await this.registrar.stop();
    this.metrics?.remove();
    if (this.ownsClient) this.client.close();
  }

  private readNetwork(): Promise<NetworkSource> {
    if (this.netConf !== undefined) return Promise.resolve(this.netConf);
    this.reading ??= readKubeNetworkConfig(this.client, this.options.overlay.kubernetes, this.options.overlay).then(
      (found) => {
        this.netConf = found;
        this.reading = undefined;
        return found;
      },
      (err: unknown) => {
        this.reading = undefined;
        throw err;
      },
    );
    return this.reading;
  }
}
