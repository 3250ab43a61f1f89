/**
 * examples/grafana/mesh-node-agent.json is a dashboard Grafana can import: the fields it needs,
 * panels that fit the 24-column grid without overlapping, every query on the dashboard's own data
 * source variable and instance filter. That its metric names are the ones the agent exports, and
 * that Prometheus evaluates every query, is shown against a running agent (test/e2e/operator-view).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadDashboard, metricNames, queries } from '../helpers/dashboard.js';

const dashboard = loadDashboard();

void describe('Grafana dashboard', () => {
  void test('has what an import needs: uid, title, schema version, data source and instance variables', () => {
    assert.match(dashboard.uid, /^[a-z0-9-]{1,40}$/);
    assert.equal(dashboard.title, 'mesh-node-agent');
    assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 30, `schemaVersion ${dashboard.schemaVersion}`);
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    assert.equal(vars.get('datasource')?.type, 'datasource');
    assert.equal(vars.get('datasource')?.query, 'prometheus');
    assert.equal(vars.get('instance')?.type, 'query');
  });

  void test('panels have unique ids and tile the 24-column grid without overlapping', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${p.title}: gridPos ${JSON.stringify(p.gridPos)}`);
      for (let i = x; i < x + w; i += 1) {
        for (let j = y; j < y + h; j += 1) {
          const other = cells.get(`${i},${j}`);
          assert.equal(other, undefined, `${p.title} overlaps ${other ?? ''}`);
          cells.set(`${i},${j}`, p.title);
        }
      }
    }
  });

  void test('every panel but a row has queries on the data source variable, each filtered by instance', () => {
    for (const p of dashboard.panels) {
      if (p.type === 'row') continue;
      assert.ok(['timeseries', 'stat'].includes(p.type), `${p.title}: panel type ${p.type}`);
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
      assert.ok((p.targets ?? []).length > 0, `${p.title} has queries`);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${p.title}: unique refIds`);
    }
    for (const { panel, target } of queries(dashboard)) {
      const names = metricNames(target.expr);
      assert.ok(names.length > 0, `${panel.title}: ${target.expr} names a metric`);
      // Every selector of ours carries the instance filter, or a VM's series would mix with another's.
      const selectors = target.expr.match(/\b(?:mesh_node_agent|process|nodejs)_[a-z0-9_]+(\{[^}]*\})?/g) ?? [];
      for (const s of selectors) assert.match(s, /\{instance=~"\$instance"\}$/, `${panel.title}: ${s}`);
    }
  });

  void test('covers readiness, peers, rotations and expiry, DNS qps/latency/cache, drift repairs and errors', () => {
    const used = new Set(queries(dashboard).flatMap(({ target }) => metricNames(target.expr)));
    for (const name of [
      'mesh_node_agent_controller_ready',
      'mesh_node_agent_overlay_peers_desired',
      'mesh_node_agent_overlay_peers_programmed',
      'mesh_node_agent_identity_rotations_total',
      'mesh_node_agent_identity_cert_expiry_timestamp_seconds',
      'mesh_node_agent_dns_queries_total',
      'mesh_node_agent_dns_query_duration_seconds_bucket',
      'mesh_node_agent_dns_cache_hits_total',
      'mesh_node_agent_overlay_drift_repairs_total',
      'mesh_node_agent_capture_drift_repairs_total',
      'mesh_node_agent_controller_errors_total',
    ]) {
      assert.ok(used.has(name), `the dashboard uses ${name}`);
    }
  });
});
