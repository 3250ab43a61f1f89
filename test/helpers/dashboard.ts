/**
 * examples/grafana/mesh-node-agent.json as tests read it: its panels, their PromQL, the metric
 * names they use, and each query as Prometheus runs it once Grafana's variables are filled in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './agent-process.js';

export const DASHBOARD_PATH = join(REPO_ROOT, 'examples/grafana/mesh-node-agent.json');

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** The metric names every exporter of ours may put in a query. */
const NAME = /\b(?:mesh_node_agent|process|nodejs)_[a-z0-9_]+\b/g;

/** Metric names one expression uses (as written: a histogram's `_bucket` included). */
export function metricNames(expr: string): string[] {
  return [...new Set(expr.match(NAME) ?? [])];
}

/** Every query with its panel, for assertions that name where a query came from. */
export function queries(dashboard: Dashboard): { panel: Panel; target: Target }[] {
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));
}

/** A query as Prometheus gets it from Grafana: every instance, a rate window of `rateWindow`. */
export function asPrometheusQuery(expr: string, rateWindow: string): string {
  return expr.replaceAll('$instance', '.+').replaceAll('$__rate_interval', rateWindow);
}

/** The family a sample name belongs to: `x_bucket`, `x_sum`, `x_count` of histogram `x` are `x`. */
export function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const base = m?.[1];
  return base !== undefined && (types.get(base) === 'histogram' || types.get(base) === 'summary') ? base : undefined;
}

/** `# TYPE name kind` lines of a Prometheus text exposition. */
export function exposedTypes(metricsText: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1] ?? '', m[2] ?? '');
  return types;
}
