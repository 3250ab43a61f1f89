/**
 * A registry of overlay hosts: where this VM learns every other host's VTEP (a peer source) and
 * where it registers its own, so that the other hosts route back to it. flannel's etcd registry
 * (etcd-registry.ts) is one; a Kubernetes registry (Node objects, under src/registry/kube/) is the
 * other shape this interface is cut for. The overlay controller owns one instance at a time
 * (create.ts picks it from the config) and drives it as follows:
 *
 *   1. `register(local)` once the VTEP is known (underlay address and MAC), before any peer is
 *      asked for; again whenever `local` changes (a reload that moved the underlay). It resolves
 *      with this VM's subnet, which becomes the VTEP address (`<network>/32` on the device).
 *   2. `start(onChange)` (from PeerSource): deliver every *other* host's peer, the full set, on
 *      start and after each change. Leave this VM out (by subnet; by public IP while the subnet is
 *      not known yet). Report what the registry holds as it is, malformed records included (set
 *      `invalid`): the overlay's peer gate (overlay/peer-gate.ts) checks and refuses, the same
 *      gate for every source, so a registry never filters for safety itself.
 *   3. `stop()` ends the deliveries; `close()` ends everything (the registration's keepalive, the
 *      connection). A reload with the same registry settings keeps the instance running; a
 *      reload that changes them closes it and creates a new one.
 *
 * A registry is `remote`: until it has delivered once after a start, the controller keeps what it
 * last had from it (in memory, or from stateDir after a restart) and removes nothing, so an
 * unreachable registry never empties the VM's routes. `ready()` is false while the registry is
 * unreachable or this VM is not registered, with the reason; `status()` is shown under
 * `/status` `overlay.sources.<name>`.
 */
import type { Registry as MetricsRegistry } from 'prom-client';
import type { KubernetesConfig } from '../kube/config-schema.js';
import type { Logger } from '../log.js';
import type { PeerSource } from './peer-source.js';

/** This VM as the overlay announces it (flannel's lease PublicIP and VtepMAC). */
export interface LocalVtep {
  /** The underlay address other hosts send VXLAN packets to. */
  publicIP: string;
  /** The VXLAN device's MAC. */
  vtepMAC: string;
}

export interface OverlayRegistry extends PeerSource {
  readonly remote: true;
  /**
   * Registers this VM (or takes its registration back after a restart) and resolves with the subnet
   * it holds, e.g. 10.234.3.0/24. Rejects with an AgentError saying what to fix when no subnet may
   * be held (a config mismatch, a subnet taken by another host); may resolve with the last held
   * subnet while the registry is unreachable, and keep trying in the background.
   */
  register(local: LocalVtep): Promise<string>;
  /** Ends the registration's upkeep and the connection; the registration itself stays (like flanneld). */
  close(): Promise<void>;
}

/** What the controller gives a registry. */
export interface RegistryContext {
  log: Logger;
  /** Where a registry keeps what must outlive a restart (e.g. the lease it holds). */
  stateDir: string;
  /** The agent's metrics; a registry registers its own (mesh_node_agent_overlay_<name>_*). */
  metrics?: MetricsRegistry;
  /** The top-level `kubernetes:` connection (the Kubernetes registry's API). */
  kubernetes?: KubernetesConfig;
}
