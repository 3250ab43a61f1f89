/** The overlay's Prometheus metrics (mesh_node_agent_overlay_*). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface OverlayMetrics {
  peersDesired: Gauge;
  peersProgrammed: Gauge;
  refused: Gauge<'reason'>;
  retrying: Gauge;
  driftRepairs: Counter;
  reconciles: Counter<'trigger'>;
  writes: Counter;
  errors: Counter;
  reconcileSeconds: Histogram;
  lastResync: Gauge;
}

export function createOverlayMetrics(registry: Registry): OverlayMetrics {
  // A controller re-created after a failure registers again: drop the previous instance's series.
  const fresh = (name: string): string => {
    registry.removeSingleMetric(name);
    return name;
  };
  const registers = [registry];
  return {
    peersDesired: new Gauge({ name: fresh('mesh_node_agent_overlay_peers_desired'), help: 'Peers in the merged peer set.', registers }),
    peersProgrammed: new Gauge({ name: fresh('mesh_node_agent_overlay_peers_programmed'), help: 'Peers whose neighbour, FDB entry and route are in the kernel.', registers }),
    refused: new Gauge({ name: fresh('mesh_node_agent_overlay_peers_refused'), help: 'Peers the peer gate refuses now, by reason (see /status refused).', labelNames: ['reason'], registers }),
    retrying: new Gauge({ name: fresh('mesh_node_agent_overlay_entries_retrying'), help: 'Peers and removals the kernel refused, held back and retried with backoff.', registers }),
    driftRepairs: new Counter({ name: fresh('mesh_node_agent_overlay_drift_repairs_total'), help: 'Kernel writes that repaired drift (found by events or periodic resync).', registers }),
    reconciles: new Counter({ name: fresh('mesh_node_agent_overlay_reconciles_total'), help: 'Reconcile passes, by trigger (start, peers, event, resync, reload, monitor, retry).', labelNames: ['trigger'], registers }),
    writes: new Counter({ name: fresh('mesh_node_agent_overlay_netlink_writes_total'), help: 'Netlink write requests sent for peers.', registers }),
    errors: new Counter({ name: fresh('mesh_node_agent_overlay_errors_total'), help: 'Failed reconciles and failed peer writes.', registers }),
    reconcileSeconds: new Histogram({ name: fresh('mesh_node_agent_overlay_reconcile_duration_seconds'), help: 'Duration of a reconcile pass.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
    lastResync: new Gauge({ name: fresh('mesh_node_agent_overlay_last_resync_timestamp_seconds'), help: 'When the last full resync (kernel dump) finished.', registers }),
  };
}
