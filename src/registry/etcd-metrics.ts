/**
 * Prometheus metrics of the etcd registry, owned by one EtcdRegistry: registered when it is created
 * (replacing those of an instance it replaces) and removed when it closes, unless a newer instance
 * has registered its own meanwhile. A replacement (a reload with other etcd settings) therefore
 * starts the counters again, which Prometheus reads as a counter reset.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

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
  const mine: { name: string; metric: unknown }[] = [];
  const own = <T>(name: string, make: (name: string) => T): T => {
    registry.removeSingleMetric(name);
    const metric = make(name);
    mine.push({ name, metric });
    return metric;
  };
  const registers = [registry];
  const numberFrom = (key: string): number => Number(observed.source.status()[key] ?? 0);
  own('mesh_node_agent_overlay_etcd_connected', (name) => new Gauge({ name, help: '1 while the etcd registry watch is connected and synced.', registers, collect() {
    this.set(observed.source.ready().ready ? 1 : 0);
  } }));
  own('mesh_node_agent_overlay_etcd_peers', (name) => new Gauge({ name, help: 'Peers known from the etcd registry (this VM excluded).', registers, collect() {
    this.set(numberFrom('peers'));
  } }));
  // Counters read from the registry's own counts: a reset and the current value on each scrape.
  const countFrom = (counter: Counter, key: string): void => {
    const n = numberFrom(key);
    counter.reset();
    counter.inc(Number.isFinite(n) && n > 0 ? n : 0);
  };
  own('mesh_node_agent_overlay_etcd_resyncs_total', (name) => new Counter({ name, help: 'Full lists of the registry: 1 at start, plus one per compaction.', registers, collect() {
    countFrom(this, 'lists');
  } }));
  own('mesh_node_agent_overlay_etcd_reconnects_total', (name) => new Counter({ name, help: 'Watch interruptions (etcd unreachable).', registers, collect() {
    countFrom(this, 'reconnects');
  } }));
  return {
    applied: own('mesh_node_agent_overlay_etcd_responses_total', (name) => new Counter({ name, help: 'etcd list and watch responses applied.', labelNames: ['cause'], registers })),
    writes: own('mesh_node_agent_overlay_etcd_lease_writes_total', (name) => new Counter({ name, help: 'Lease transactions: create, takeover, lost-race.', labelNames: ['kind'], registers })),
    remove() {
      for (const { name, metric } of mine) if (registry.getSingleMetric(name) === metric) registry.removeSingleMetric(name);
    },
  };
}
