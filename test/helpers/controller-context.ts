/** A ControllerContext for unit tests: silent log, a fresh registry, reported errors kept. */
import { Registry } from 'prom-client';
import type { ControllerContext } from '../../src/agent/controller.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';

export interface TestContext extends ControllerContext {
  reported: unknown[];
}

export function testContext(): TestContext {
  const reported: unknown[] = [];
  return { log: createLogger({ level: 'silent' }), metrics: new Registry(), reportError: (err) => reported.push(err), reported };
}

/** The defaults (no file), changed by `edit`. */
export async function defaultsWith(edit: (config: Config) => void): Promise<Config> {
  const { config } = await loadConfig({ path: '/nonexistent/mesh-node-agent.yaml', mustExist: false });
  const out = structuredClone(config);
  edit(out);
  return out;
}

/** The value of a metric (with the given labels) in the registry. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return found?.value;
}
