/**
 * Prometheus metrics of the etcd registry, created once per agent registry (a reload builds a new
 * EtcdRegistry; the gauges then read the new one).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

interface Observed {
  source: { status(): Record<string, unknown>; ready(): { ready: boolean } };
}

export interface RegistryMetrics {
  applied: Counter<'cause'>;
  writes: Counter<'kind'>;
}

const perRegistry = new WeakMap<Registry, { metrics: RegistryMetrics; target: { current: () => Observed | undefined } }>();

export function registryMetrics(registry: Registry, current: () => Observed | undefined): RegistryMetrics {
  const existing = perRegistry.get(registry);
  if (existing !== undefined) {
    existing.target.current = current;
    return existing.metrics;
  }
  const target = { current };
  const numberFrom = (key: string): number => Number(target.current()?.source.status()[key] ?? 0);
  new Gauge({
    name: 'mesh_node_agent_overlay_etcd_connected',
    help: '1 while the etcd registry watch is connected and synced.',
    registers: [registry],
    collect() {
      this.set(target.current()?.source.ready().ready === true ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mesh_node_agent_overlay_etcd_peers',
    help: 'Peers known from the etcd registry (this VM excluded).',
    registers: [registry],
    collect() {
      this.set(numberFrom('peers'));
    },
  });
  new Gauge({
    name: 'mesh_node_agent_overlay_etcd_resyncs',
    help: 'Full lists of the registry: 1 at start, plus one per compaction.',
    registers: [registry],
    collect() {
      this.set(numberFrom('lists'));
    },
  });
  new Gauge({
    name: 'mesh_node_agent_overlay_etcd_reconnects',
    help: 'Watch interruptions (etcd unreachable) since start.',
    registers: [registry],
    collect() {
      this.set(numberFrom('reconnects'));
    },
  });
  const metrics: RegistryMetrics = {
    applied: new Counter({ name: 'mesh_node_agent_overlay_etcd_responses_total', help: 'etcd list and watch responses applied.', labelNames: ['cause'], registers: [registry] }),
    writes: new Counter({ name: 'mesh_node_agent_overlay_etcd_lease_writes_total', help: 'Lease transactions: create, takeover, lost-race.', labelNames: ['kind'], registers: [registry] }),
  };
  perRegistry.set(registry, { metrics, target });
  return metrics;
}
