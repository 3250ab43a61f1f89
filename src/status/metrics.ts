/**
 * The agent's Prometheus registry: the standard process_* and nodejs_* metrics under their usual
 * names (what every client library, pilot-agent and flanneld export, so existing dashboards and
 * alerts match), plus build info; controllers add their own, named mesh_node_agent_<controller>_….
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../version.js';

/** How often the event-loop delay is sampled (the nodejs_eventloop_lag_* metrics). */
const EVENT_LOOP_SAMPLE_MS = 1000;

export function createRegistry(): Registry {
  const registry = new Registry();
  // The event-loop delay monitor samples on a timer; at prom-client's default 10 ms it woke the
  // loop 100 times a second, and a DNS query that arrives during such a wakeup waits for it.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const info = new Gauge({
    name: 'mesh_node_agent_build_info',
    help: 'Always 1; labels carry the build.',
    labelNames: ['version', 'node'],
    registers: [registry],
  });
  info.set({ version: VERSION, node: process.version }, 1);
  return registry;
}
