/**
 * Prometheus metrics of the Kubernetes registry, created once per agent metrics registry (a
 * changed config builds a new KubeRegistry; the gauges then read the new one).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

interface Observed {
  source: { status(): Record<string, unknown>; ready(): { ready: boolean } };
}

export interface KubeRegistryMetrics {
  applied: Counter<'cause'>;
  writes: Counter<'kind'>;
}

const perRegistry = new WeakMap<Registry, { metrics: KubeRegistryMetrics; target: { current: () => Observed | undefined } }>();

export function kubeRegistryMetrics(registry: Registry, current: () => Observed | undefined): KubeRegistryMetrics {
  const existing = perRegistry.get(registry);
  if (existing !== undefined) {
    existing.target.current = current;
    return existing.metrics;
  }
  const target = { current };
  const gauge = (name: string, help: string, value: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  };
  const numberFrom = (key: string): number => Number(target.current()?.source.status()[key] ?? 0);
  gauge('mesh_node_agent_overlay_kubernetes_connected', '1 while the Node watch is connected and synced.', () => (target.current()?.source.ready().ready === true ? 1 : 0));
  gauge('mesh_node_agent_overlay_kubernetes_peers', 'Peers read from Nodes (this VM excluded).', () => numberFrom('peers'));
  gauge('mesh_node_agent_overlay_kubernetes_nodes', 'Nodes followed (with or without flannel annotations).', () => numberFrom('nodes'));
  gauge('mesh_node_agent_overlay_kubernetes_relists', 'Lists after the first: 410 Gone, or a stream that could not be trusted.', () => numberFrom('relists'));
  gauge('mesh_node_agent_overlay_kubernetes_reconnects', 'Watch interruptions (API unreachable or refusing) since start.', () => numberFrom('reconnects'));
  const metrics: KubeRegistryMetrics = {
    applied: new Counter({ name: 'mesh_node_agent_overlay_kubernetes_updates_total', help: 'Node lists and watch batches applied.', labelNames: ['cause'], registers: [registry] }),
    writes: new Counter({ name: 'mesh_node_agent_overlay_kubernetes_node_writes_total', help: "Writes to this VM's Node: create, patch.", labelNames: ['kind'], registers: [registry] }),
  };
  perRegistry.set(registry, { metrics, target });
  return metrics;
}
