/**
 * The status page's script: every 5 s (while the tab is visible) it fetches /status and
 * /status/history and rebuilds the header and sections with DOM calls that only ever set text
 * (textContent, createTextNode) and fixed attribute names: no markup is parsed from data. It
 * mirrors the server's rendering (page-*.ts), same data-k names and formats; the Chromium test
 * compares the two. Without JavaScript the server's page stands alone.
 */
import { PAGE_SCRIPT_OVERLAY } from './page-script-overlay.js';
import { PAGE_SCRIPT_SECTIONS } from './page-script-sections.js';

const CORE = String.raw`
var REFRESH_MS = 5000, NS = 'http://www.w3.org/2000/svg';
function el(tag, attrs) {
  var e = tag.indexOf('svg:') === 0 ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (var k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== '') e.setAttribute(k, String(attrs[k]));
  for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
  return e;
}
function add(parent, child) {
  if (child === undefined || child === null || child === false || child === '') return;
  if (Array.isArray(child)) { child.forEach(function (c) { add(parent, c); }); return; }
  parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
}
function str(v) { return v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v); }
function kv(label, key, value, cls) { return [el('dt', null, label), el('dd', { 'class': cls, 'data-k': key }, str(value))]; }
function fmtTime(v) {
  if (v === null || v === undefined || v === '') return '';
  var ms = typeof v === 'number' ? v : Date.parse(v);
  if (!isFinite(ms)) return typeof v === 'string' ? v : '';
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ') + 'Z';
}
function fmtDuration(seconds) {
  if (!isFinite(seconds)) return '?';
  var s = Math.max(0, Math.round(seconds)), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return d + 'd ' + h + 'h';
  if (h > 0) return h + 'h ' + m + 'm';
  if (m > 0) return m + 'm ' + (s % 60) + 's';
  return s + 's';
}
function fmtRelative(v, now) {
  var ms = v === null || v === undefined ? NaN : Date.parse(v);
  if (!isFinite(ms)) return '';
  var delta = (ms - now) / 1000;
  return delta >= 0 ? 'in ' + fmtDuration(delta) : fmtDuration(-delta) + ' ago';
}
function pct(f) { return Math.round(f * 1000) / 10 + '%'; }
function inactive(s) { return s.state === 'disabled' || s.state === 'not started'; }
function stateText(s) { return inactive(s) ? s.state : s.state === 'running' ? (s.ready ? 'ready' : 'not ready') : s.state; }
function stateClass(s) { return s.state === 'disabled' ? 'off' : s.state === 'running' && s.ready ? 'ok' : 'bad'; }
function more(shownCount, total, key) { return total > shownCount ? el('p', { 'class': 'note', 'data-k': key }, (total - shownCount) + ' more not shown (see /status)') : null; }
function capability(name, title, s, body) {
  var head = el('h2', null, title + ' ', el('span', { 'class': 'state ' + stateClass(s), 'data-k': name + '.state' }, stateText(s)));
  if (inactive(s)) return el('section', { id: name }, head);
  var problem = s.statusError !== undefined ? s.statusError : s.ready ? undefined : (s.reason !== undefined ? s.reason : s.lastError && s.lastError.message);
  return el('section', { id: name }, head, problem === undefined ? null : el('p', { 'class': 'problem', 'data-k': name + '.problem' }, str(problem)), body(s));
}
`;

const LOOP = String.raw`
var lastGood = null, timer = null, refreshes = 0;
function live(message, bad) {
  var p = document.getElementById('live');
  if (p) { p.textContent = message; p.className = 'live' + (bad ? ' bad' : ''); }
}
function refresh() {
  if (document.hidden) return;
  var get = function (path) { return fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } }).then(function (r) { if (!r.ok) throw { message: path + ': HTTP ' + r.status }; return r.json(); }); };
  Promise.all([get('/status'), get('/status/history')]).then(function (both) {
    var now = Date.now();
    document.querySelector('header').replaceWith(header(both[0]));
    document.querySelector('main').replaceWith(mainPart(both[0], both[1], now));
    refreshes++;
    document.documentElement.setAttribute('data-refreshes', String(refreshes));
    document.title = 'mesh-node-agent ' + both[0].hostname + (both[0].ready ? ' (ready)' : ' (NOT READY)');
    lastGood = now;
    live('Live: refreshed every ' + REFRESH_MS / 1000 + ' s, last at ' + fmtTime(now) + '.', false);
  }).catch(function (err) {
    live('Agent unreachable (' + String(err && err.message || err) + ')' + (lastGood === null ? '' : '; showing data from ' + fmtTime(lastGood)) + '.', true);
  });
}
live('Live: refreshed every ' + REFRESH_MS / 1000 + ' s.', false);
timer = setInterval(refresh, REFRESH_MS);
document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh(); });
`;

/** The whole script, as one classic script (one function scope: nothing leaks to window). */
export const PAGE_SCRIPT = `(function () {\n'use strict';\n${CORE}${PAGE_SCRIPT_OVERLAY}${PAGE_SCRIPT_SECTIONS}${LOOP}})();\n`;
