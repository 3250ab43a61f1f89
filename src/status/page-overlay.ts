/**
 * The overlay section of the status page: device, peer counts, the peers (from `peers.list` when
 * the overlay reports one, else the failing ones it names) and what was refused. The overlay's
 * /status is being reworked, so every field is optional here and read defensively. Pure.
 */
import { html, shown, type Html } from './html.js';
import { capabilitySection, kv, more } from './page-parts.js';
import type { ControllerSection, OverlayDetails, OverlayPeerRow, OverlayRefusal } from './status-document.js';

export const MAX_ROWS = 200;

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export interface PeerView {
  rows: OverlayPeerRow[];
  total: number;
  /** Set when the overlay gives no per-peer list and the rows are only the failing peers. */
  partial: boolean;
}

/** The peer rows: the overlay's own list, or the subnets it names as failing with why. */
export function peerView(d: Partial<OverlayDetails>): PeerView {
  const list = d.peers?.list;
  if (Array.isArray(list)) return { rows: list.slice(0, MAX_ROWS), total: list.length, partial: false };
  const why = new Map<string, string>();
  for (const r of Array.isArray(d.retrying) ? d.retrying : []) {
    const entry = text(r.entry) ?? '';
    const subnet = entry.split('|').find((part) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(part));
    if (subnet !== undefined && r.lastError !== undefined) why.set(subnet, shown(r.lastError));
  }
  const failed = Array.isArray(d.peers?.failed) ? d.peers.failed : [];
  const rows = failed.map((subnet): OverlayPeerRow => ({ subnet: shown(subnet), programmed: false, reason: why.get(String(subnet)) ?? 'kernel write failed' }));
  return { rows: rows.slice(0, MAX_ROWS), total: rows.length, partial: true };
}

/** Refused leases and peers, whichever form this overlay reports them in. */
export function refusals(d: Partial<OverlayDetails>): { rows: OverlayRefusal[]; total: number } {
  const rows: OverlayRefusal[] = [];
  if (Array.isArray(d.refused)) rows.push(...d.refused);
  for (const c of Array.isArray(d.conflicts) ? d.conflicts : []) {
    const ignored = record(c.ignored);
    const kept = record(c.kept);
    const keptAs = [text(kept?.source), text(kept?.publicIP)].filter((x) => x !== undefined && x !== '').join(' ');
    rows.push({ source: text(ignored?.source), subnet: text(c.subnet), publicIP: text(ignored?.publicIP), vtepMAC: text(ignored?.vtepMAC), reason: text(c.reason) ?? 'conflict', ...(keptAs === '' ? {} : { message: `kept ${keptAs}` }) });
  }
  for (const [name, source] of Object.entries(record(d.sources) ?? {})) {
    for (const [key, why] of Object.entries(record(record(source)?.invalidLeases) ?? {})) rows.push({ source: name, key, reason: 'invalid', message: shown(why) });
  }
  const total = typeof d.refusedCount === 'number' && d.refusedCount > rows.length ? d.refusedCount : rows.length;
  return { rows: rows.slice(0, MAX_ROWS), total };
}

function peerTable(view: PeerView): Html {
  if (view.rows.length === 0) return html`<p class="note" data-k="overlay.peers.none">${view.partial ? 'No failing peers.' : 'No peers.'}</p>`;
  const rows = view.rows.map(
    (p) =>
      html`<tr><td data-k="overlay.peer.subnet">${p.subnet}</td><td data-k="overlay.peer.publicIP">${p.publicIP}</td><td data-k="overlay.peer.mac">${p.vtepMAC}</td><td data-k="overlay.peer.source">${p.source}</td><td class="${p.programmed === true ? 'ok' : 'bad'}" data-k="overlay.peer.state">${p.programmed === true ? 'programmed' : `not programmed${p.reason === undefined ? '' : `: ${p.reason}`}`}</td></tr>`,
  );
  return html`<table><thead><tr><th>subnet</th><th>public IP</th><th>VTEP MAC</th><th>source</th><th>state</th></tr></thead><tbody>${rows}</tbody></table>${more(view.rows.length, view.total, 'overlay.peers.more')}`;
}

function refusedTable(view: { rows: OverlayRefusal[]; total: number }): Html {
  if (view.total === 0) return html`<p class="note" data-k="overlay.refused.none">None refused.</p>`;
  const rows = view.rows.map(
    (r) =>
      html`<tr><td data-k="overlay.refused.source">${r.source}</td><td data-k="overlay.refused.subnet">${r.subnet ?? r.key}</td><td data-k="overlay.refused.publicIP">${r.publicIP}</td><td data-k="overlay.refused.mac">${r.vtepMAC}</td><td data-k="overlay.refused.reason">${[r.reason, r.message].filter((x) => x !== undefined && x !== '').join(': ')}</td></tr>`,
  );
  return html`<table><thead><tr><th>source</th><th>subnet or key</th><th>public IP</th><th>VTEP MAC</th><th>why</th></tr></thead><tbody>${rows}</tbody></table>${more(view.rows.length, view.total, 'overlay.refused.more')}`;
}

function sourcesLine(d: Partial<OverlayDetails>): Html {
  const parts = Object.entries(record(d.sources) ?? {}).map(([name, raw]) => {
    const s = record(raw) ?? {};
    const flags = [typeof s.peers === 'number' ? `${s.peers} peers` : undefined, s.connected === false ? 'disconnected' : undefined, text(s.reason)].filter((x) => x !== undefined);
    return `${name}${flags.length === 0 ? '' : ` (${flags.join(', ')})`}`;
  });
  return kv('sources', 'overlay.sources', parts.join('; '));
}

export function overlaySection(section: ControllerSection<OverlayDetails>): Html {
  return capabilitySection('overlay', 'Overlay', section, (d) => {
    const dev = record(d.device);
    const underlay = record(dev?.underlay);
    const device = dev === undefined ? '' : [text(dev.name), dev.vni === undefined ? undefined : `VNI ${shown(dev.vni)}`, dev.mtu === undefined ? undefined : `MTU ${shown(dev.mtu)}`, dev.up === false ? 'down' : undefined].filter((x) => x !== undefined).join(', ');
    const peers = peerView(d);
    return html`<dl>${kv('device', 'overlay.device', device)}${kv('VTEP MAC', 'overlay.mac', text(dev?.mac))}${kv('own subnet', 'overlay.subnet', text(dev?.subnet))}${kv('underlay', 'overlay.underlay', [text(underlay?.name), text(underlay?.address)].filter((x) => x !== undefined).join(' '))}${kv('peers programmed', 'overlay.programmed', d.peers?.programmed)}${kv('peers desired', 'overlay.desired', d.peers?.desired)}${sourcesLine(d)}${kv('drift repairs', 'overlay.driftRepairs', d.driftRepairs)}</dl>
<h3>${peers.partial ? 'Peers not programmed' : 'Peers'}</h3>${peers.partial ? html`<p class="note" data-k="overlay.peers.partial">This overlay reports peer counts, not each peer: only the failing ones are listed.</p>` : ''}${peerTable(peers)}
<h3>Refused leases and peers</h3>${refusedTable(refusals(d))}`;
  });
}
