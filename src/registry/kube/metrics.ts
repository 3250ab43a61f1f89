/**
 * Prometheus metrics of the Kubernetes registry, owned by one KubeRegistry (as the etcd registry's
 * are): registered when it is created (replacing those of an instance it replaces) and removed
 * when it closes, unless a newer instance has registered its own meanwhile.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

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
  const mine: { name: string; metric: unknown }[] = [];
  const own = <T>(name: string, make: (name: string) => T): T => {
    registry.removeSingleMetric(name);
    const metric = make(name);
    mine.push({ name, metric });
    return metric;
  };
  const registers = [registry];
  const gauge = (name: string, help: string, value: () => number): void => {
    own(name, (n) => new Gauge({ name: n, help, registers, collect() {
      this.set(value());
    } }));
  };
  const numberFrom = (key: string): number => Number(observed.source.status()[key] ?? 0);
  gauge('mesh_node_agent_overlay_kubernetes_connected', '1 while the Node watch is connected and synced.', () => (observed.source.ready().ready ? 1 : 0));
  gauge('mesh_node_agent_overlay_kubernetes_peers', 'Peers read from Nodes (this VM excluded).', () => numberFrom('peers'));
  gauge('mesh_node_agent_overlay_kubernetes_nodes', 'Nodes followed (with or without flannel annotations).', () => numberFrom('nodes'));
  gauge('mesh_node_agent_overlay_kubernetes_relists', 'Lists after the first: 410 Gone, or a stream that could not be trusted.', () => numberFrom('relists'));
  gauge('mesh_node_agent_overlay_kubernetes_reconnects', 'Watch interruptions (API unreachable or refusing) since start.', () => numberFrom('reconnects'));
  return {
    applied: own('mesh_node_agent_overlay_kubernetes_updates_total', (name) => new Counter({ name, help: 'Node lists and watch batches applied.', labelNames: ['cause'], registers })),
    writes: own('mesh_node_agent_overlay_kubernetes_node_writes_total', (name) => new Counter({ name, help: "Writes to this VM's Node: create, patch.", labelNames: ['kind'], registers })),
    remove() {
      for (const { name, metric } of mine) if (registry.getSingleMetric(name) === metric) registry.removeSingleMetric(name);
    },
  };
}
