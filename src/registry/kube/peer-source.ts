/**
 * A PeerSource over flannel's kube subnet manager: every Node followed by list + watch (the
 * Informer: resourceVersion, bookmarks, relist on 410 Gone, backoff), each marked Node read as a
 * peer (node-peers.ts), the full set delivered on start and after every change. While the API is
 * unreachable nothing is delivered, so the overlay keeps the last peers programmed, and the source
 * reports not ready with the reason. Our own Node's changes go to the registrar instead.
 */
import type { Readiness } from '../../agent/controller.js';
import type { Logger } from '../../log.js';
import type { KubeClient } from '../../kube/client.js';
import type { Change } from '../../kube/diff.js';
import { Informer, type ChangeCause } from '../../kube/informer.js';
import type { KubeObject } from '../../kube/objects.js';
import type { BackoffOptions } from '../../kube/backoff.js';
import type { NetworkBounds, Peer, PeerSource } from '../peer-source.js';
import { OWNER_ANNOTATION, VM_LABEL, type FlannelNames } from './annotations.js';
import { NodePeers } from './node-peers.js';
import { SOURCE } from './node-peer.js';

export const NODES_PATH = '/api/v1/nodes';

export interface KubePeerSourceOptions {
  client: KubeClient;
  names: FlannelNames;
  /** This VM's Node: never a peer; its changes go to onOwnNode. */
  ownName: string;
  log: Logger;
  /** What every podCIDR must fit, once the network config is known. */
  network: () => NetworkBounds | undefined;
  /** Our Node as the watch last saw it (undefined: absent), after the first list and on each change. */
  onOwnNode?: (node: KubeObject | undefined) => void;
  /** The API answers again after an outage. */
  onConnected?: () => void;
  /** Counts applied lists and watch batches, for metrics. */
  onApplied?: (cause: ChangeCause) => void;
  watchTimeoutSeconds?: number;
  backoff?: BackoffOptions;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What the registry keeps of a Node: name, version, creation time, the flannel annotations and
 * spec.podCIDR; of our own Node also its labels, owner and taints. A Node's status (images,
 * conditions) is most of its size: with a thousand Nodes it would be megabytes held for nothing.
 */
export function trimNode(object: KubeObject, names: FlannelNames, ownName: string): KubeObject {
  const m = object.metadata;
  const own = m.name === ownName;
  const prefix = names.backendType.slice(0, names.backendType.lastIndexOf('/') + 1);
  let annotations: Record<string, string> | undefined;
  if (m.annotations !== undefined) {
    annotations = {};
    for (const [k, v] of Object.entries(m.annotations)) if (k.startsWith(prefix) || (own && k === OWNER_ANNOTATION)) annotations[k] = v;
  }
  const spec = isRecord(object.spec) ? object.spec : {};
  const keptSpec: Record<string, unknown> = {};
  if (typeof spec.podCIDR === 'string') keptSpec.podCIDR = spec.podCIDR;
  if (own && Array.isArray(spec.taints)) keptSpec.taints = spec.taints;
  return {
    metadata: {
      name: m.name,
      resourceVersion: m.resourceVersion,
      ...(m.uid === undefined ? {} : { uid: m.uid }),
      ...(typeof m.creationTimestamp === 'string' ? { creationTimestamp: m.creationTimestamp } : {}),
      ...(annotations === undefined ? {} : { annotations }),
      ...(own && m.labels !== undefined ? { labels: { ...(m.labels[VM_LABEL] === undefined ? {} : { [VM_LABEL]: m.labels[VM_LABEL] }) } } : {}),
    },
    spec: keptSpec,
  };
}

export class KubePeerSource implements PeerSource {
  readonly name = SOURCE;
  readonly remote = true;
  private readonly informer: Informer;
  private readonly peerSet: NodePeers;
  private onChange: ((peers: readonly Peer[]) => void) | undefined;
  private peers: readonly Peer[] = [];
  private delivered = false;
  private firstOutcome: (() => void) | undefined;
  private lastChangeAt: string | undefined;
  private connected = false;

  constructor(private readonly options: KubePeerSourceOptions) {
    this.peerSet = new NodePeers(options.names, options.ownName);
    this.informer = new Informer({
      client: options.client,
      path: NODES_PATH,
      log: options.log,
      transform: (node) => trimNode(node, options.names, options.ownName),
      ...(options.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: options.watchTimeoutSeconds }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      onChange: (changes, objects, cause) => this.changed(changes, objects, cause),
      onState: (state) => {
        const was = this.connected;
        this.connected = state.connected;
        if (state.connected && !was) options.onConnected?.();
        // The first answer, or the first failure: start() returns either way.
        if (state.synced || !state.connected) this.firstOutcome?.();
      },
    });
  }

  /**
   * Starts following. Resolves after the first list (peers delivered) or the first failure (an
   * unreachable API leaves a not-ready source that keeps retrying in the background).
   */
  async start(onChange: (peers: readonly Peer[]) => void): Promise<void> {
    this.onChange = onChange;
    const outcome = new Promise<void>((resolve) => (this.firstOutcome = resolve));
    this.informer.start();
    await outcome;
    this.firstOutcome = undefined;
  }

  async stop(): Promise<void> {
    this.onChange = undefined;
    this.firstOutcome?.();
    await this.informer.stop();
  }

  /** The Nodes held (trimmed), by name. */
  nodes(): ReadonlyMap<string, KubeObject> {
    return this.informer.list();
  }

  synced(): boolean {
    return this.informer.status().synced;
  }

  /** Re-reads the set without API I/O (e.g. after the network config changed). */
  refresh(): void {
    if (this.synced()) this.recompute(this.informer.list());
  }

  network(): NetworkBounds | undefined {
    return this.options.network();
  }

  current(): readonly Peer[] {
    return this.peers;
  }

  ready(): Readiness {
    const s = this.informer.status();
    if (s.synced && s.connected) return { ready: true };
    return { ready: false, reason: s.reason ?? (s.synced ? 'kubernetes API unreachable' : 'Nodes not listed yet') };
  }

  status(): Record<string, unknown> {
    const s = this.informer.status();
    return {
      connected: s.connected,
      synced: s.synced,
      peers: this.peers.length,
      nodes: s.objects,
      resourceVersion: s.resourceVersion,
      lists: s.lists,
      relists: s.relists,
      reconnects: s.reconnects,
      bookmarks: s.bookmarks,
      events: s.events,
      ...(this.lastChangeAt === undefined ? {} : { lastChange: this.lastChangeAt }),
      ...(s.reason === undefined ? {} : { reason: s.reason }),
      ...(s.lastError === undefined ? {} : { lastError: s.lastError }),
    };
  }

  private changed(changes: readonly Change[], objects: ReadonlyMap<string, KubeObject>, cause: ChangeCause): void {
    this.options.onApplied?.(cause);
    const own = this.options.ownName;
    if (cause !== 'watch' || changes.some((c) => c.key === own)) this.options.onOwnNode?.(objects.get(own));
    if (cause !== 'watch') {
      this.recompute(objects);
      return;
    }
    this.deliver(this.peerSet.update(changes.map((c): [string, KubeObject | undefined] => [c.key, c.type === 'deleted' ? undefined : objects.get(c.key)])));
  }

  private recompute(objects: ReadonlyMap<string, KubeObject>): void {
    this.deliver(this.peerSet.compute(objects));
  }

  private deliver(peers: Peer[]): void {
    if (this.delivered && samePeers(peers, this.peers)) return;
    this.delivered = true;
    this.peers = peers;
    this.lastChangeAt = new Date().toISOString();
    this.onChange?.(peers);
  }
}

function samePeers(a: readonly Peer[], b: readonly Peer[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}
