/**
 * The overlay section of the status page: device, peer counts, each listed peer (programmed, or
 * why not) and what the peer gate refused. Lists are cut at MAX_ROWS with a count of the rest. Pure.
 */
import { html, type Html } from './html.js';
import { capabilitySection, kv, more } from './page-parts.js';
import type { ControllerSection, OverlayDetails, OverlayPeerRow, OverlayRefusal } from './status-document.js';

export const MAX_ROWS = 200;

function peerTable(rows: readonly OverlayPeerRow[], total: number): Html {
  if (rows.length === 0) return html`<p class="note" data-k="overlay.peers.none">No peers.</p>`;
  const body = rows.slice(0, MAX_ROWS).map(
    (p) =>
      html`<tr><td data-k="overlay.peer.subnet">${p.subnet}</td><td data-k="overlay.peer.publicIP">${p.publicIP}</td><td data-k="overlay.peer.mac">${p.vtepMAC}</td><td data-k="overlay.peer.source">${p.source}</td><td class="${p.programmed ? 'ok' : 'bad'}" data-k="overlay.peer.state">${p.programmed ? 'programmed' : `not programmed${p.reason === undefined ? '' : `: ${p.reason}`}`}</td></tr>`,
  );
  return html`<table><thead><tr><th>subnet</th><th>public IP</th><th>VTEP MAC</th><th>source</th><th>state</th></tr></thead><tbody>${body}</tbody></table>${more(body.length, total, 'overlay.peers.more')}`;
}

function refusedTable(rows: readonly OverlayRefusal[], total: number): Html {
  if (total === 0) return html`<p class="note" data-k="overlay.refused.none">None refused.</p>`;
  const body = rows.slice(0, MAX_ROWS).map(
    (r) =>
      html`<tr><td data-k="overlay.refused.source">${r.source}</td><td data-k="overlay.refused.key">${r.key}</td><td data-k="overlay.refused.subnet">${r.subnet}</td><td data-k="overlay.refused.publicIP">${r.publicIP}</td><td data-k="overlay.refused.mac">${r.vtepMAC}</td><td data-k="overlay.refused.reason">${r.reason}: ${r.message}</td></tr>`,
  );
  return html`<table><thead><tr><th>source</th><th>key</th><th>subnet</th><th>public IP</th><th>VTEP MAC</th><th>why</th></tr></thead><tbody>${body}</tbody></table>${more(body.length, total, 'overlay.refused.more')}`;
}

/** "static (3 peers); etcd (12 peers, disconnected: …)" */
export function sourcesText(sources: OverlayDetails['sources'] | undefined): string {
  return Object.entries(sources ?? {})
    .map(([name, s]) => {
      const flags = [`${s.peers} peers`, s.connected === false ? `disconnected${s.reason === undefined ? '' : `: ${s.reason}`}` : undefined].filter((x) => x !== undefined);
      return `${name} (${flags.join(', ')})`;
    })
    .join('; ');
}

export function deviceText(dev: OverlayDetails['device'] | undefined): string {
  if (dev === undefined || dev === null) return '';
  return [dev.name, `VNI ${dev.vni}`, `MTU ${dev.mtu}`, dev.up === false ? 'down' : undefined].filter((x) => x !== undefined).join(', ');
}

export function overlaySection(section: ControllerSection<OverlayDetails>): Html {
  return capabilitySection('overlay', 'Overlay', section, (d) => {
    const dev = d.device ?? undefined;
    const underlay = dev?.underlay === undefined ? '' : `${dev.underlay.name} ${dev.underlay.address}`;
    const holding = d.holding ?? [];
    return html`<dl>${kv('device', 'overlay.device', deviceText(dev))}${kv('VTEP MAC', 'overlay.mac', dev?.mac)}${kv('own subnet', 'overlay.subnet', dev?.subnet)}${kv('underlay', 'overlay.underlay', underlay)}${kv('peers programmed', 'overlay.programmed', d.peers?.programmed)}${kv('peers desired', 'overlay.desired', d.peers?.desired)}${kv('sources', 'overlay.sources', sourcesText(d.sources))}${holding.length === 0 ? '' : kv('holding last peers of', 'overlay.holding', holding.join(', '), 'bad')}${kv('drift repairs', 'overlay.driftRepairs', d.driftRepairs)}</dl>
<h3>Peers</h3>${peerTable(d.peers?.list ?? [], d.peers?.desired ?? 0)}
<h3>Refused leases and peers</h3>${refusedTable(d.refused ?? [], d.refusedCount ?? 0)}`;
  });
}
