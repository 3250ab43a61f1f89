/** The DNS section of the status page: counters, upstreams, and the last ten minutes as charts. Pure. */
import { html, type Html } from './html.js';
import { CHART_HEIGHT, CHART_WIDTH, chartLines, formatPercent, formatTime, niceMax } from './page-format.js';
import { capabilitySection, kv, more } from './page-parts.js';
import type { ControllerSection, DnsDetails, StatusHistory } from './status-document.js';

export interface ChartSpec {
  key: string;
  title: string;
  values: { at: number; value: number | null }[];
  /** Fixed top of the scale (ratio); the data's own rounded up otherwise. */
  top?: number;
  format: (v: number) => string;
}

/** A small line chart: SVG drawn here (so it shows without JavaScript), redrawn by the page's script. */
export function chart(spec: ChartSpec, windowSeconds: number, now: number): Html {
  const known = spec.values.map((v) => v.value).filter((v): v is number => v !== null);
  const top = spec.top ?? niceMax(Math.max(0, ...known));
  const lines = chartLines(spec.values, top, windowSeconds * 1000, now);
  const last = known.length === 0 ? 'no data yet' : spec.format(known[known.length - 1] ?? 0);
  return html`<figure class="chart" data-chart="${spec.key}"><figcaption>${spec.title}: <b data-k="${spec.key}.last">${last}</b> <span class="note">(scale <span data-k="${spec.key}.top">${spec.format(top)}</span>, <span data-k="${spec.key}.points">${known.length}</span> points)</span></figcaption>
<svg viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" role="img" aria-label="${spec.title}"><rect class="plot" x="0" y="0" width="${CHART_WIDTH}" height="${CHART_HEIGHT}"></rect>${lines.map((points) => html`<polyline class="series" points="${points}"></polyline>`)}</svg>
<div class="axis"><span>-${Math.round(windowSeconds / 60)} min</span><span>now</span></div></figure>`;
}

export function dnsCharts(history: StatusHistory, now: number): Html {
  const qps = history.points.map((p) => ({ at: p.at, value: p.dnsQps }));
  const ratio = history.points.map((p) => ({ at: p.at, value: p.dnsCacheHitRatio }));
  return html`<div class="charts">${chart({ key: 'dns.qps', title: 'queries per second', values: qps, format: (v) => String(Math.round(v * 10) / 10) }, history.windowSeconds, now)}${chart({ key: 'dns.hitRatio', title: 'cache hit ratio', values: ratio, top: 1, format: formatPercent }, history.windowSeconds, now)}</div>`;
}

function upstreamTable(d: Partial<DnsDetails>): Html {
  const health = d.upstreams?.health ?? [];
  if (health.length === 0) return html``;
  const rows = health.map(
    (u) =>
      html`<tr><td data-k="dns.upstream.server">${u.server}</td><td class="${u.healthy ? 'ok' : 'bad'}" data-k="dns.upstream.healthy">${u.healthy ? 'healthy' : 'failing'}</td><td data-k="dns.upstream.queries">${u.queries}</td><td data-k="dns.upstream.failures">${u.failures}</td><td data-k="dns.upstream.rtt">${u.rttMs === undefined ? '' : `${u.rttMs} ms`}</td></tr>`,
  );
  return html`<table><thead><tr><th>upstream</th><th>health</th><th>queries</th><th>failures</th><th>RTT</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function problems(d: Partial<DnsDetails>): Html {
  const list = d.mesh?.problems ?? [];
  if (list.length === 0) return html``;
  const shown = list.slice(0, 50);
  return html`<h3>ServiceEntry problems (serving the last good table)</h3><ul>${shown.map((p) => html`<li class="bad" data-k="dns.problem">${p.file}: ${p.reason}</li>`)}</ul>${more(shown.length, list.length, 'dns.problems.more')}`;
}

export function dnsSection(section: ControllerSection<DnsDetails>, history: StatusHistory, now: number): Html {
  return capabilitySection('dns', 'DNS', section, (d) => {
    const cache = d.cache;
    return html`<dl>${kv('listening', 'dns.listeners', (d.listeners ?? []).map((l) => l.address).join(', '))}${kv('queries answered', 'dns.queries', d.queries)}${kv('cache', 'dns.cache', cache === undefined ? '' : `${cache.size} / ${cache.capacity} entries, hit rate ${formatPercent(cache.hitRate)}`)}${kv('in flight', 'dns.inFlight', d.inFlight)}${kv('mesh names', 'dns.meshHosts', d.mesh?.hosts)}${kv('last mesh load', 'dns.lastLoad', formatTime(d.mesh?.lastLoad))}</dl>${dnsCharts(history, now)}${upstreamTable(d)}${problems(d)}`;
  });
}
