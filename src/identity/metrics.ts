/** The identity controller's Prometheus metrics. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Why a rotation failed, as the failures counter labels it. */
export const FAILURE_REASONS = ['ca_unavailable', 'answer_rejected', 'ca_root_unsafe', 'install', 'other'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export interface IdentityMetrics {
  rotations: Counter<'auth'>;
  failures: Counter<'reason'>;
  duration: Histogram;
}

export function createIdentityMetrics(registry: Registry, view: () => { notAfter?: number; consecutiveFailures: number }): IdentityMetrics {
  new Gauge({
    // A timestamp, not "seconds left": the value stays right between scrapes, and time to expiry
    // is `mesh_node_agent_identity_cert_expiry_timestamp_seconds - time()` in PromQL.
    name: 'mesh_node_agent_identity_cert_expiry_timestamp_seconds',
    help: 'Unix time at which the installed certificate expires (NotAfter); absent with no certificate.',
    registers: [registry],
    collect() {
      const notAfter = view().notAfter;
      if (notAfter === undefined) this.reset();
      else this.set(notAfter / 1000);
    },
  });
  new Gauge({
    name: 'mesh_node_agent_identity_consecutive_failures',
    help: 'Rotation attempts failed in a row (0 after a success).',
    registers: [registry],
    collect() {
      this.set(view().consecutiveFailures);
    },
  });
  const metrics: IdentityMetrics = {
    rotations: new Counter({
      name: 'mesh_node_agent_identity_rotations_total',
      help: 'Certificates issued and installed, by how the CA call authenticated.',
      labelNames: ['auth'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'mesh_node_agent_identity_rotation_failures_total',
      help: 'Failed rotation attempts, by reason (ca_unavailable, answer_rejected, install, other).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'mesh_node_agent_identity_rotation_duration_seconds',
      help: 'Time of a successful rotation: key, CSR, CA call, verification and install.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [registry],
    }),
  };
  // Every reason at 0 from the start: a dashboard shows "no failures", not "no data".
  for (const reason of FAILURE_REASONS) metrics.failures.inc({ reason }, 0);
  return metrics;
}
