/** The status page's header, controller table and capture section. Pure. */
import { html, type Html } from './html.js';
import { formatDuration, formatRelative, formatTime } from './page-format.js';
import { capabilitySection, isActive, kv, stateClass, stateText } from './page-parts.js';
import type { CaptureDetails, ControllerSection, StatusDocument } from './status-document.js';

export function header(doc: StatusDocument): Html {
  const reload = doc.config.lastReload;
  const warnings = doc.config.warnings ?? [];
  return html`<header><h1>mesh-node-agent on <span data-k="agent.hostname">${doc.hostname}</span> <span class="state ${doc.ready ? 'ok' : 'bad'}" data-k="agent.ready">${doc.ready ? 'READY' : 'NOT READY'}</span></h1>
<p class="meta">version <span data-k="agent.version">${doc.version}</span> · pid <span data-k="agent.pid">${doc.pid}</span> · up <span data-k="agent.uptime">${formatDuration(doc.uptimeSeconds)}</span> · config <span data-k="config.path">${doc.config.path}</span> generation <span data-k="config.generation">${doc.config.generation}</span>${reload === undefined ? '' : html` · last reload <span class="${reload.ok ? 'ok' : 'bad'}" data-k="config.lastReload">${reload.ok ? 'applied' : 'rejected'} ${formatTime(reload.at)}${reload.error === undefined ? '' : `: ${reload.error}`}</span>`}${doc.unhandledErrors.count === 0 ? '' : html` · <span class="bad" data-k="agent.unhandled">${doc.unhandledErrors.count} unhandled errors</span>`}</p>
${warnings.length === 0 ? '' : html`<ul class="warnings">${warnings.map((w) => html`<li data-k="config.warning">${w}</li>`)}</ul>`}<p class="live" id="live" data-k="page.live">Static page (no JavaScript): it reloads every 30 s.</p></header>`;
}

export function controllerTable(doc: StatusDocument): Html {
  const rows = (Object.keys(doc.controllers) as (keyof StatusDocument['controllers'])[]).map((name) => {
    const s: ControllerSection<unknown> = doc.controllers[name];
    const active = isActive(s) ? s : undefined;
    const note = active === undefined ? '' : (active.statusError ?? active.reason ?? active.lastError?.message ?? '');
    return html`<tr><td>${name}</td><td class="${stateClass(s)}" data-k="ctl.${name}.state">${stateText(s)}</td><td data-k="ctl.${name}.errors">${active?.errors ?? ''}</td><td data-k="ctl.${name}.note">${note}</td></tr>`;
  });
  return html`<section id="controllers"><h2>Controllers</h2><table><thead><tr><th>controller</th><th>state</th><th>errors</th><th>note</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

export function captureSection(section: ControllerSection<CaptureDetails>, now: number): Html {
  return capabilitySection('capture', 'Capture', section, (d) => {
    const rules = d.rulesApplied === undefined ? undefined : d.rulesApplied.ipv4 + d.rulesApplied.ipv6;
    const split = d.rulesApplied === undefined ? '' : ` (IPv4 ${d.rulesApplied.ipv4}, IPv6 ${d.rulesApplied.ipv6})`;
    const drift = d.lastDrift ?? [];
    return html`<dl>${kv('rules', 'capture.rules', rules === undefined ? '' : `${rules}${split}`)}${kv('backend', 'capture.backend', d.backend)}${kv('verified', 'capture.verified', d.verified === undefined ? '' : d.verified ? 'yes' : 'no', d.verified === true ? 'ok' : 'bad')}${kv('last verification', 'capture.lastVerify', `${formatTime(d.lastVerify)} ${formatRelative(d.lastVerify, now)}`.trim())}${kv('last apply', 'capture.lastApply', formatTime(d.lastApply))}${kv('drift repairs', 'capture.driftRepairs', d.driftRepairs)}${kv('errors', 'capture.errors', d.captureErrors)}${d.lastCaptureError === undefined ? '' : kv('last error', 'capture.lastError', `${formatTime(d.lastCaptureError.at)}: ${d.lastCaptureError.message}`, 'bad')}</dl>${drift.length === 0 ? '' : html`<h3>Last drift repaired</h3><ul>${drift.slice(0, 20).map((line) => html`<li data-k="capture.drift">${line}</li>`)}</ul>`}`;
  });
}
