/**
 * Prometheus metrics of the etcd registry, owned by one EtcdRegistry (owned-metrics.ts).
 */
import type { Counter, Registry } from 'prom-client';
import { OwnedMetrics } from './owned-metrics.js';

interface Observed {
  source: { status(): Record<string, unknown>; ready(): { ready: boolean } };
}

export interface RegistryMetrics {
  applied: Counter<'cause'>;
  writes: Counter<'kind'>;
  /** Unregisters these metrics (those a newer instance registered stay). */
  remove(): void;
}

export function registryMetrics(registry: Registry, observed: Observed): RegistryMetrics {
  const owned = new OwnedMetrics(registry);
  const numberFrom = (key: string): number => Number(observed.source.status()[key] ?? 0);
  owned.gauge('mesh_node_agent_overlay_etcd_connected', '1 while the etcd registry watch is connected and synced.', () => (observed.source.ready().ready ? 1 : 0));
  owned.gauge('mesh_node_agent_overlay_etcd_peers', 'Peers known from the etcd registry (this VM excluded).', () => numberFrom('peers'));
  owned.countedBy('mesh_node_agent_overlay_etcd_resyncs_total', 'Full lists of the registry: 1 at start, plus one per compaction.', () => numberFrom('lists'));
  owned.countedBy('mesh_node_agent_overlay_etcd_reconnects_total', 'Watch interruptions (etcd unreachable).', () => numberFrom('reconnects'));
  return {
    applied: owned.counter('mesh_node_agent_overlay_etcd_responses_total', 'etcd list and watch responses applied.', ['cause']),
    writes: owned.counter('mesh_node_agent_overlay_etcd_lease_writes_total', 'Lease transactions: create, takeover, lost-race.', ['kind']),
    remove: () => owned.remove(),
  };
}
