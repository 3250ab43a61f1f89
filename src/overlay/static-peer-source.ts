/** Peers from `overlay.peers`: the seed's hand-written table as a peer source. */
import type { Readiness } from '../agent/controller.js';
import type { PeerConfig } from '../config/schema.js';
import type { Peer, PeerSource } from '../registry/peer-source.js';

export class StaticPeerSource implements PeerSource {
  readonly name = 'config';
  private readonly peers: Peer[];

  constructor(peers: readonly PeerConfig[]) {
    this.peers = peers.map((p, i) => ({ subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC.toLowerCase(), source: this.name, key: `overlay.peers[${i}]`, order: i }));
  }

  start(onChange: (peers: readonly Peer[]) => void): Promise<void> {
    onChange(this.peers);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  status(): Record<string, unknown> {
    return { peers: this.peers.length };
  }

  ready(): Readiness {
    return { ready: true };
  }
}
