/** The identity section of the status page: the certificate and its lifetime as a bar. Pure. */
import { html, type Html } from './html.js';
import { formatDuration, formatPercent, formatRelative, formatTime, lifetimeBar } from './page-format.js';
import { capabilitySection, kv } from './page-parts.js';
import type { ControllerSection, IdentityDetails } from './status-document.js';

/** The bar from issue to expiry: elapsed part filled, the rotation point and now marked. */
function bar(d: Partial<IdentityDetails>, now: number): Html {
  const issued = d.issuedAt ?? d.notBefore;
  const rotation = d.rotateAt ?? d.nextRotation;
  const b = lifetimeBar(issued, d.notAfter, rotation, now);
  if (b === undefined) return html`<p class="note" data-k="identity.bar.none">No certificate lifetime to show.</p>`;
  const x = (f: number): number => Math.round(f * 1000);
  const rot = b.rotation;
  return html`<div class="lifetime" data-k-bar="identity">
<svg class="bar" viewBox="0 0 1000 24" preserveAspectRatio="none" role="img" aria-label="certificate lifetime"><rect class="track" x="0" y="6" width="1000" height="12"></rect><rect class="${b.remainingSeconds <= 0 ? 'expired' : rot !== undefined && b.elapsed >= rot ? 'due' : 'elapsed'}" data-bar="elapsed" x="0" y="6" width="${x(b.elapsed)}" height="12"></rect>${rot === undefined ? '' : html`<line class="rotation" data-bar="rotation" x1="${x(rot)}" x2="${x(rot)}" y1="0" y2="24"></line>`}</svg>
<div class="legend"><span>issued <b data-k="identity.issued">${formatTime(issued)}</b></span><span>rotation <b data-k="identity.rotation">${formatTime(rotation)}</b> (<span data-k="identity.rotationPct">${rot === undefined ? '' : formatPercent(rot)}</span>)</span><span>expires <b data-k="identity.expires">${formatTime(d.notAfter)}</b></span></div>
<p>elapsed <span data-k="identity.elapsedPct">${formatPercent(b.elapsed)}</span>, <span data-k="identity.remaining">${b.remainingSeconds > 0 ? `${formatDuration(b.remainingSeconds)} left` : 'expired'}</span></p>
</div>`;
}

export function identitySection(section: ControllerSection<IdentityDetails>, now: number): Html {
  return capabilitySection('identity', 'Identity', section, (d) => {
    const last = d.lastRotation === undefined ? '' : `${formatTime(d.lastRotation.at)} (serial ${d.lastRotation.serial}, ${d.lastRotation.auth})`;
    return html`<dl>${kv('SPIFFE ID', 'identity.spiffeId', d.spiffeId)}${d.installedSpiffeId === undefined ? '' : kv('installed ID', 'identity.installedSpiffeId', d.installedSpiffeId, 'bad')}${kv('CA', 'identity.ca', [d.protocol, d.caAddress].filter((x) => x !== undefined).join(' '))}${kv('certificate', 'identity.certificate', d.certificate, d.certificate === 'valid' ? 'ok' : 'bad')}${kv('serial', 'identity.serial', d.serial)}${kv('next attempt', 'identity.next', `${formatTime(d.nextRotation)} ${formatRelative(d.nextRotation, now)}`.trim())}${kv('schedule', 'identity.schedule', d.schedule)}${kv('last rotation', 'identity.lastRotation', last)}${kv('failures in a row', 'identity.failures', d.consecutiveFailures)}${d.lastError === undefined ? '' : kv('last failure', 'identity.lastError', `${formatTime(d.lastError.at)}: ${d.lastError.message}`, 'bad')}</dl>${bar(d, now)}`;
  });
}
