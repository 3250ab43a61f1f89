/**
 * GET /: the status page, one self-contained HTML document (inline style and script, nothing
 * else loaded) for a person at the other end of an SSH tunnel. Rendered here with every value, so
 * it reads the same without JavaScript; the script only refreshes it. The Content-Security-Policy
 * allows exactly this page's own style and script (by hash) and fetches to the same origin, so
 * even a value that escaped escaping could not run script. Pure.
 */
import { createHash } from 'node:crypto';
import { html } from './html.js';
import { dnsSection } from './page-dns.js';
import { identitySection } from './page-identity.js';
import { overlaySection } from './page-overlay.js';
import { PAGE_SCRIPT } from './page-script.js';
import { captureSection, controllerTable, header } from './page-sections.js';
import { PAGE_STYLE } from './page-style.js';
import type { StatusDocument, StatusHistory } from './status-document.js';

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** Headers for the page: no caching, no framing, no referrer, nothing but its own style and script. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'none'",
    `script-src ${sha256(PAGE_SCRIPT)}`,
    `style-src ${sha256(PAGE_STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

export function renderStatusPage(doc: StatusDocument, history: StatusHistory, now: number): string {
  const title = `mesh-node-agent ${doc.hostname}${doc.ready ? ' (ready)' : ' (NOT READY)'}`;
  const main = html`<main>${controllerTable(doc)}${identitySection(doc.controllers.identity, now)}${dnsSection(doc.controllers.dns, history, now)}${captureSection(doc.controllers.capture, now)}${overlaySection(doc.controllers.overlay)}</main>`;
  // The style and script go in verbatim (they are ours, and their hashes are in the CSP).
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html`${title}`.text}</title><link rel="icon" href="data:,">
<noscript><meta http-equiv="refresh" content="30"></noscript>
<style>${PAGE_STYLE}</style></head>
<body>${header(doc).text}
${main.text}
<script>${PAGE_SCRIPT}</script></body></html>
`;
}
