/** Prometheus metrics of the Kubernetes registry, owned by one KubeRegistry (owned-metrics.ts). */
import type { Counter, Registry } from 'prom-client';
import { OwnedMetrics } from '../owned-metrics.js';

interface Observed {
  source: { status(): Record<string, unknown>; ready(): { ready: boolean } };
}

export interface KubeRegistryMetrics {
  applied: Counter<'cause'>;
  writes: Counter<'kind'>;
  /** Unregisters these metrics (those a newer instance registered stay). */
  remove(): void;
}

export function kubeRegistryMetrics(registry: Registry, observed: Observed): KubeRegistryMetrics {
  const owned = new OwnedMetrics(registry);
  const numberFrom = (key: string): number => Number(observed.source.status()[key] ?? 0);
  owned.gauge('mesh_node_agent_overlay_kubernetes_connected', '1 while the Node watch is connected and synced.', () => (observed.source.ready().ready ? 1 : 0));
  owned.gauge('mesh_node_agent_overlay_kubernetes_peers', 'Peers read from Nodes (this VM excluded).', () => numberFrom('peers'));
  owned.gauge('mesh_node_agent_overlay_kubernetes_nodes', 'Nodes followed (with or without flannel annotations).', () => numberFrom('nodes'));
  owned.countedBy('mesh_node_agent_overlay_kubernetes_relists_total', 'Lists after the first: 410 Gone, or a stream that could not be trusted.', () => numberFrom('relists'));
  owned.countedBy('mesh_node_agent_overlay_kubernetes_reconnects_total', 'Watch interruptions (API unreachable or refusing).', () => numberFrom('reconnects'));
  return {
    applied: owned.counter('mesh_node_agent_overlay_kubernetes_updates_total', 'Node lists and watch batches applied.', ['cause']),
    writes: owned.counter('mesh_node_agent_overlay_kubernetes_node_writes_total', "Writes to this VM's Node: create, patch.", ['kind']),
    remove: () => owned.remove(),
  };
}
