/** The capture controller's Prometheus metrics (reused if a restarted controller finds them registered). */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface CaptureMetrics {
  rules: Gauge<'family'>;
  transactions: Counter<'family' | 'table'>;
  driftRepairs: Counter;
  errors: Counter;
  verified: Gauge;
  lastVerify: Gauge;
}

function reuse<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function captureMetrics(registry: Registry): CaptureMetrics {
  const registers = [registry];
  return {
    rules: reuse(registry, 'mesh_node_agent_capture_rules', () => new Gauge({ name: 'mesh_node_agent_capture_rules', help: 'Capture rules installed (as built), per address family.', labelNames: ['family'], registers })),
    transactions: reuse(registry, 'mesh_node_agent_capture_restore_transactions_total', () => new Counter({ name: 'mesh_node_agent_capture_restore_transactions_total', help: 'iptables-restore transactions applied.', labelNames: ['family', 'table'], registers })),
    driftRepairs: reuse(registry, 'mesh_node_agent_capture_drift_repairs_total', () => new Counter({ name: 'mesh_node_agent_capture_drift_repairs_total', help: 'Times installed rules had drifted from the built ones and were rewritten.', registers })),
    errors: reuse(registry, 'mesh_node_agent_capture_errors_total', () => new Counter({ name: 'mesh_node_agent_capture_errors_total', help: 'Failed apply, verify or cleanup attempts.', registers })),
    verified: reuse(registry, 'mesh_node_agent_capture_verified', () => new Gauge({ name: 'mesh_node_agent_capture_verified', help: '1 when the last verify found the installed rules equal to the built ones.', registers })),
    lastVerify: reuse(registry, 'mesh_node_agent_capture_last_verify_timestamp_seconds', () => new Gauge({ name: 'mesh_node_agent_capture_last_verify_timestamp_seconds', help: 'Unix time of the last verify.', registers })),
  };
}
