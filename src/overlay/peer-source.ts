/**
 * Where overlay peers come from: the static table in config, flannel's etcd registry, and any
 * later source. The overlay controller merges all sources and programs the union.
 */
import type { Readiness } from '../agent/controller.js';

/** One remote VTEP: flannel's per-host lease reduced to what the kernel needs. */
export interface Peer {
  /** The host's pod subnet, e.g. 10.234.1.0/24; its network address is the remote VTEP address. */
  subnet: string;
  /** Underlay address VXLAN packets are sent to (FDB dst). */
  publicIP: string;
  /** The remote flannel.<vni> device's MAC. */
  vtepMAC: string;
  /** Which source reported it ("config", "etcd"), for status and conflict reports. */
  source: string;
}

export interface PeerSource {
  readonly name: string;
  /** Starts delivering the full current peer set to `onChange` (initially and after every change). */
  start(onChange: (peers: readonly Peer[]) => void): Promise<void>;
  stop(): Promise<void>;
  status(): Record<string, unknown>;
  ready(): Readiness;
}
