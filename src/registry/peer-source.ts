/**
 * Where overlay peers come from: the static table in config (overlay/static-peer-source.ts) and a
 * registry of other hosts (registry.ts). The overlay controller passes every source's peers through
 * one gate (overlay/peer-gate.ts) and programs what it accepts, so a source reports what it read and
 * leaves judging it to the gate.
 */
import type { Readiness } from '../agent/controller.js';

/** The overlay's address plan: flannel's Network, SubnetLen and SubnetMin..SubnetMax when known. */
export interface NetworkBounds {
  network: string;
  subnetLen?: number;
  subnetMin?: string;
  subnetMax?: string;
}

/** One remote VTEP: flannel's per-host lease reduced to what the kernel needs. */
export interface Peer {
  /** The host's pod subnet, e.g. 10.234.1.0/24; its network address is the remote VTEP address. */
  subnet: string;
  /** Underlay address VXLAN packets are sent to (FDB dst). */
  publicIP: string;
  /** The remote flannel.<vni> device's MAC. */
  vtepMAC: string;
  /** Which source reported it ("config", "etcd", "kube"), for status and refusal reports. */
  source: string;
  /** Where the source keeps it (an etcd key, `overlay.peers[0]`, a Node name); default the subnet. */
  key?: string;
  /** Earlier claims on a subnet, MAC or public IP win: the etcd create revision; default the position. */
  order?: number;
  /** The record's version (etcd mod revision): a refusal is logged once per revision. */
  revision?: string;
  /** The source could not read the record: why. The gate refuses (and reports) it. */
  invalid?: string;
}

export interface PeerSource {
  readonly name: string;
  /**
   * A registry on other hosts: until it has delivered a full set after a start, the controller
   * programs the last set it delivered (kept in stateDir) and removes nothing from the device,
   * so an outage never looks like an empty registry.
   */
  readonly remote?: boolean;
  /** The overlay's address plan as this source knows it (flannel's Network, SubnetLen, range). */
  network?(): NetworkBounds | undefined;
  /**
   * Starts delivering the full current peer set to `onChange` (initially and after every change).
   * A delivered Peer object is never changed afterwards: the same object again means the same peer.
   */
  start(onChange: (peers: readonly Peer[]) => void): Promise<void>;
  stop(): Promise<void>;
  status(): Record<string, unknown>;
  ready(): Readiness;
}
