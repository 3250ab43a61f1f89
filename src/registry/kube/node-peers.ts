/**
 * The peer set from every Node the informer holds (pure, incremental): our own Node is never a
 * peer; each other Node is read by nodeToPeer. A Node whose peer facts did not change (kubelet
 * heartbeats, label edits) keeps the same Peer object and revision, so the overlay's intake sees
 * nothing to do and a refusal is logged once, not at every status update.
 */
import type { Peer } from '../peer-source.js';
import type { FlannelNames } from './annotations.js';
import { nodeToPeer, peerFingerprint, type NodeLike } from './node-peer.js';

interface Cached {
  resourceVersion: string;
  fingerprint: string;
  peer: Peer | undefined;
}

export class NodePeers {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly names: FlannelNames,
    /** This VM's Node name: never a peer. */
    private readonly ownName: string,
  ) {}

  /** Peers sorted by subnet then key; `nodes` is keyed by Node name. */
  compute(nodes: ReadonlyMap<string, NodeLike>): Peer[] {
    const peers: Peer[] = [];
    for (const [name, node] of nodes) {
      if (name === this.ownName) continue;
      const peer = this.read(name, node);
      if (peer !== undefined) peers.push(peer);
    }
    if (this.cache.size > nodes.size) for (const name of this.cache.keys()) if (!nodes.has(name)) this.cache.delete(name);
    return peers.sort((a, b) => (a.subnet < b.subnet ? -1 : a.subnet > b.subnet ? 1 : (a.key ?? '') < (b.key ?? '') ? -1 : 1));
  }

  private read(name: string, node: NodeLike): Peer | undefined {
    const rv = node.metadata.resourceVersion;
    const cached = this.cache.get(name);
    if (cached?.resourceVersion === rv) return cached.peer;
    const fresh = nodeToPeer(node, this.names);
    const fingerprint = peerFingerprint(fresh);
    if (cached !== undefined && cached.fingerprint === fingerprint) {
      cached.resourceVersion = rv;
      return cached.peer;
    }
    const peer = fresh === undefined ? undefined : { ...fresh, revision: rv };
    this.cache.set(name, { resourceVersion: rv, fingerprint, peer });
    return peer;
  }
}
