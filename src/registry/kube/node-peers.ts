/**
 * The peer set from every Node the informer holds (pure, incremental): our own Node is never a
 * peer; each other Node is read by nodeToPeer. A Node whose peer facts did not change (kubelet
 * heartbeats, label edits) keeps the same Peer object and revision, so the overlay's intake sees
 * nothing to do and a refusal is logged once, not at every status update. A watch batch costs a
 * look-up per changed Node plus one pass to hand out the set (in the informer's order: a changed
 * Node keeps its place), not a re-read and sort of every Node.
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
  /** The current peers by Node name, in the informer's order. */
  private readonly peers = new Map<string, Peer>();

  constructor(
    private readonly names: FlannelNames,
    /** This VM's Node name: never a peer. */
    private readonly ownName: string,
  ) {}

  /** Every peer, read again from the whole map (a list or relist); `nodes` is keyed by Node name. */
  compute(nodes: ReadonlyMap<string, NodeLike>): Peer[] {
    this.peers.clear();
    for (const [name, node] of nodes) {
      if (name === this.ownName) continue;
      const peer = this.read(name, node);
      if (peer !== undefined) this.peers.set(name, peer);
    }
    if (this.cache.size > nodes.size) for (const name of this.cache.keys()) if (!nodes.has(name)) this.cache.delete(name);
    return [...this.peers.values()];
  }

  /** Every peer after the Nodes named in `changed` changed (their current object, or undefined: deleted). */
  update(changed: Iterable<[string, NodeLike | undefined]>): Peer[] {
    for (const [name, node] of changed) {
      if (name === this.ownName) continue;
      const peer = node === undefined ? undefined : this.read(name, node);
      if (node === undefined) this.cache.delete(name);
      // A deleted or no longer marked Node leaves; a new one joins at the end, a changed one keeps its place.
      if (peer === undefined) this.peers.delete(name);
      else this.peers.set(name, peer);
    }
    return [...this.peers.values()];
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
