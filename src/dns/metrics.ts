/**
 * Prometheus metrics for the DNS proxy, read from the plain counters on scrape (the hot path
 * never touches prom-client). Names: mesh_node_agent_dns_….
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DnsCache } from './cache.js';
import { ANSWER_SOURCES, LATENCY_BUCKETS, type DnsStats } from './stats.js';
import type { UpstreamHealth } from './upstream.js';

export interface MetricsSource {
  stats(): DnsStats;
  cache(): DnsCache;
  upstreams(): UpstreamHealth[];
  inFlight(): number;
  meshHosts(): number;
  manifestErrors(): number;
}

const NAMES = [
  'queries_total',
  'responses_total',
  'dropped_total',
  'truncated_total',
  'query_duration_seconds',
  'cache_entries',
  'cache_hits_total',
  'cache_misses_total',
  'upstream_healthy',
  'upstream_queries_total',
  'upstream_failures_total',
  'upstream_case_mismatches_total',
  'coalesced_total',
  'upstream_queries_in_flight',
  'mesh_hosts',
  'manifest_errors_total',
].map((n) => `mesh_node_agent_dns_${n}`);

/** Counters only grow through inc(): reset, then inc to the absolute value we keep. */
function setCounter(c: Counter<string>, value: number): void {
  c.reset();
  c.inc(value);
}

export function registerDnsMetrics(registry: Registry, src: MetricsSource): void {
  // A re-created controller (disable → enable) registers again: drop the old instruments first.
  for (const name of NAMES) registry.removeSingleMetric(name);
  const registers = [registry];
  new Counter({
    name: 'mesh_node_agent_dns_queries_total',
    help: 'DNS queries answered, by answer source (hosts, mesh, forward, cache, upstream, error).',
    labelNames: ['source'],
    registers,
    collect() {
      const s = src.stats();
      this.reset();
      for (const source of ANSWER_SOURCES) this.inc({ source }, s.bySource[source]);
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_responses_total',
    help: 'DNS responses sent, by rcode.',
    labelNames: ['rcode'],
    registers,
    collect() {
      const s = src.stats();
      this.reset();
      s.byRcode.forEach((n, rcode) => {
        if (n > 0) this.inc({ rcode: s.rcodeName(rcode) }, n);
      });
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_dropped_total',
    help: 'Packets dropped without reply (responses, packets shorter than a header).',
    registers,
    collect() {
      setCounter(this, src.stats().dropped);
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_truncated_total',
    help: 'Forwarded or cached replies cut to the client size with TC set.',
    registers,
    collect() {
      setCounter(this, src.stats().truncated);
    },
  });
  new Histogram({
    name: 'mesh_node_agent_dns_query_duration_seconds',
    help: 'Time from receiving a query to sending its reply.',
    buckets: LATENCY_BUCKETS,
    registers,
    collect() {
      // Rebuild from our own bucket counts: observe() on the hot path would cost more than the answer.
      const s = src.stats();
      this.reset();
      const h = this as unknown as { hashMap: Record<string, { labels: object; bucketValues: Record<number, number>; sum: number; count: number }> };
      const bucketValues: Record<number, number> = {};
      let count = 0;
      LATENCY_BUCKETS.forEach((b, i) => {
        bucketValues[b] = s.latencyCounts[i]!;
        count += s.latencyCounts[i]!;
      });
      count += s.latencyCounts[LATENCY_BUCKETS.length]!;
      h.hashMap = { '': { labels: {}, bucketValues, sum: s.latencySum, count } };
    },
  });
  new Gauge({
    name: 'mesh_node_agent_dns_cache_entries',
    help: 'Entries in the DNS cache.',
    registers,
    collect() {
      this.set(src.cache().size);
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_cache_hits_total',
    help: 'Forwardable queries answered from the cache.',
    registers,
    collect() {
      setCounter(this, src.cache().hits);
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_cache_misses_total',
    help: 'Forwardable queries not found in the cache.',
    registers,
    collect() {
      setCounter(this, src.cache().misses);
    },
  });
  new Gauge({
    name: 'mesh_node_agent_dns_upstream_healthy',
    help: '1 when the upstream server answered its latest query.',
    labelNames: ['server'],
    registers,
    collect() {
      this.reset();
      for (const u of src.upstreams()) this.set({ server: u.server }, u.healthy ? 1 : 0);
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_upstream_queries_total',
    help: 'Queries sent to each upstream server.',
    labelNames: ['server'],
    registers,
    collect() {
      this.reset();
      for (const u of src.upstreams()) this.inc({ server: u.server }, u.queries);
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_upstream_failures_total',
    help: 'Upstream queries that timed out or failed.',
    labelNames: ['server'],
    registers,
    collect() {
      this.reset();
      for (const u of src.upstreams()) this.inc({ server: u.server }, u.failures);
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_upstream_case_mismatches_total',
    help: 'Upstream replies whose name differed from the question only in letter case (0x20: dropped, or asked again).',
    labelNames: ['server'],
    registers,
    collect() {
      this.reset();
      for (const u of src.upstreams()) this.inc({ server: u.server }, u.caseMismatches);
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_coalesced_total',
    help: 'Forwarded queries that joined an identical query already out upstream.',
    registers,
    collect() {
      setCounter(this, src.stats().coalesced);
    },
  });
  new Gauge({
    name: 'mesh_node_agent_dns_upstream_queries_in_flight',
    help: 'Forwarded queries waiting for an upstream reply.',
    registers,
    collect() {
      this.set(src.inFlight());
    },
  });
  new Gauge({
    name: 'mesh_node_agent_dns_mesh_hosts',
    help: 'Names in the mesh table built from ServiceEntry manifests.',
    registers,
    collect() {
      this.set(src.meshHosts());
    },
  });
  new Counter({
    name: 'mesh_node_agent_dns_manifest_errors_total',
    help: 'ServiceEntry loads rejected (the last good table stayed).',
    registers,
    collect() {
      setCounter(this, src.manifestErrors());
    },
  });
}
