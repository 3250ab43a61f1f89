import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { registryMetrics } from '../../src/registry/etcd-metrics.js';

const observed = (peers: number, ready: boolean): { source: { status(): Record<string, unknown>; ready(): { ready: boolean } } } => ({
  source: { status: () => ({ peers, lists: 1, reconnects: 0 }), ready: () => ({ ready }) },
});

void describe('etcd registry metrics', () => {
  void test('belong to one registry instance: a replacement takes them over, closing the old one leaves them', async () => {
    const prom = new Registry();
    const first = registryMetrics(prom, observed(3, true));
    first.writes.inc({ kind: 'create' });
    assert.match(await prom.metrics(), /mesh_node_agent_overlay_etcd_peers 3/);
    // A reload with other etcd settings: the new instance registers, then the old one closes.
    const second = registryMetrics(prom, observed(5, false));
    first.remove();
    const text = await prom.metrics();
    assert.match(text, /mesh_node_agent_overlay_etcd_peers 5/);
    assert.match(text, /mesh_node_agent_overlay_etcd_connected 0/);
    assert.doesNotMatch(text, /lease_writes_total\{kind="create"\}/, 'the counters start again');
    second.writes.inc({ kind: 'takeover' });
    assert.match(await prom.metrics(), /mesh_node_agent_overlay_etcd_lease_writes_total\{kind="takeover"\} 1/);
    // The registry removed from the config: its metrics go with it.
    second.remove();
    assert.doesNotMatch(await prom.metrics(), /mesh_node_agent_overlay_etcd/);
  });
});
