/** The agent's Prometheus registry: process metrics plus build info; controllers add their own. */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../version.js';

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mesh_node_agent_' });
  const info = new Gauge({
    name: 'mesh_node_agent_build_info',
    help: 'Always 1; labels carry the build.',
    labelNames: ['version', 'node'],
    registers: [registry],
  });
  info.set({ version: VERSION, node: process.version }, 1);
  return registry;
}
