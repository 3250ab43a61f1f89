/** The page script's header and sections other than the overlay (mirrors page-*.ts). Part of PAGE_SCRIPT. */
export const PAGE_SCRIPT_SECTIONS = String.raw`
var CHART_W = 300, CHART_H = 60, NAMES = ['identity', 'overlay', 'capture', 'dns'];
function header(doc) {
  var reload = doc.config.lastReload, warnings = doc.config.warnings || [];
  return el('header', null,
    el('h1', null, 'mesh-node-agent on ', el('span', { 'data-k': 'agent.hostname' }, str(doc.hostname)), ' ', el('span', { 'class': 'state ' + (doc.ready ? 'ok' : 'bad'), 'data-k': 'agent.ready' }, doc.ready ? 'READY' : 'NOT READY')),
    el('p', { 'class': 'meta' }, 'version ', el('span', { 'data-k': 'agent.version' }, str(doc.version)), ' \u00b7 pid ', el('span', { 'data-k': 'agent.pid' }, str(doc.pid)), ' \u00b7 up ', el('span', { 'data-k': 'agent.uptime' }, fmtDuration(doc.uptimeSeconds)),
      ' \u00b7 config ', el('span', { 'data-k': 'config.path' }, str(doc.config.path)), ' generation ', el('span', { 'data-k': 'config.generation' }, str(doc.config.generation)),
      reload === undefined ? null : [' \u00b7 last reload ', el('span', { 'class': reload.ok ? 'ok' : 'bad', 'data-k': 'config.lastReload' }, (reload.ok ? 'applied' : 'rejected') + ' ' + fmtTime(reload.at) + (reload.error === undefined ? '' : ': ' + str(reload.error)))],
      doc.unhandledErrors.count === 0 ? null : [' \u00b7 ', el('span', { 'class': 'bad', 'data-k': 'agent.unhandled' }, doc.unhandledErrors.count + ' unhandled errors')]),
    warnings.length === 0 ? null : el('ul', { 'class': 'warnings' }, warnings.map(function (w) { return el('li', { 'data-k': 'config.warning' }, str(w)); })),
    el('p', { 'class': 'live', id: 'live', 'data-k': 'page.live' }, ''));
}
function controllerTable(doc) {
  return el('section', { id: 'controllers' }, el('h2', null, 'Controllers'), el('table', null,
    el('thead', null, el('tr', null, ['controller', 'state', 'errors', 'note'].map(function (t) { return el('th', null, t); }))),
    el('tbody', null, NAMES.map(function (name) {
      var s = doc.controllers[name], a = inactive(s) ? undefined : s;
      var note = a === undefined ? '' : a.statusError !== undefined ? a.statusError : a.reason !== undefined ? a.reason : a.lastError !== undefined ? a.lastError.message : '';
      return el('tr', null, el('td', null, name), el('td', { 'class': stateClass(s), 'data-k': 'ctl.' + name + '.state' }, stateText(s)), el('td', { 'data-k': 'ctl.' + name + '.errors' }, a === undefined ? '' : str(a.errors)), el('td', { 'data-k': 'ctl.' + name + '.note' }, str(note)));
    }))));
}
function lifetime(d, now) {
  var issued = d.issuedAt !== undefined ? d.issuedAt : d.notBefore, rotation = d.rotateAt !== undefined ? d.rotateAt : d.nextRotation;
  var start = Date.parse(issued || ''), end = Date.parse(d.notAfter || '');
  if (!isFinite(start) || !isFinite(end) || end <= start) return el('p', { 'class': 'note', 'data-k': 'identity.bar.none' }, 'No certificate lifetime to show.');
  var at = function (ms) { return Math.min(1, Math.max(0, (ms - start) / (end - start))); };
  var r = Date.parse(rotation || ''), rot = isFinite(r) && r >= start && r <= end ? at(r) : undefined, elapsed = at(now), remaining = (end - now) / 1000;
  var x = function (f) { return Math.round(f * 1000); };
  var svg = el('svg:svg', { 'class': 'bar', viewBox: '0 0 1000 24', preserveAspectRatio: 'none', role: 'img', 'aria-label': 'certificate lifetime' },
    el('svg:rect', { 'class': 'track', x: 0, y: 6, width: 1000, height: 12 }),
    el('svg:rect', { 'class': remaining <= 0 ? 'expired' : rot !== undefined && elapsed >= rot ? 'due' : 'elapsed', 'data-bar': 'elapsed', x: 0, y: 6, width: x(elapsed), height: 12 }),
    rot === undefined ? null : el('svg:line', { 'class': 'rotation', 'data-bar': 'rotation', x1: x(rot), x2: x(rot), y1: 0, y2: 24 }));
  return el('div', { 'class': 'lifetime' }, svg, el('div', { 'class': 'legend' },
    el('span', null, 'issued ', el('b', { 'data-k': 'identity.issued' }, fmtTime(issued))),
    el('span', null, 'rotation ', el('b', { 'data-k': 'identity.rotation' }, fmtTime(rotation)), ' (', el('span', { 'data-k': 'identity.rotationPct' }, rot === undefined ? '' : pct(rot)), ')'),
    el('span', null, 'expires ', el('b', { 'data-k': 'identity.expires' }, fmtTime(d.notAfter)))),
    el('p', null, 'elapsed ', el('span', { 'data-k': 'identity.elapsedPct' }, pct(elapsed)), ', ', el('span', { 'data-k': 'identity.remaining' }, remaining > 0 ? fmtDuration(remaining) + ' left' : 'expired')));
}
function identitySection(s, now) {
  return capability('identity', 'Identity', s, function (d) {
    var last = d.lastRotation === undefined ? '' : fmtTime(d.lastRotation.at) + ' (serial ' + str(d.lastRotation.serial) + ', ' + str(d.lastRotation.auth) + ')';
    return [el('dl', null, kv('SPIFFE ID', 'identity.spiffeId', d.spiffeId), d.installedSpiffeId === undefined ? null : kv('installed ID', 'identity.installedSpiffeId', d.installedSpiffeId, 'bad'),
      kv('CA', 'identity.ca', [d.protocol, d.caAddress].filter(function (x) { return x !== undefined; }).map(str).join(' ')), kv('certificate', 'identity.certificate', d.certificate, d.certificate === 'valid' ? 'ok' : 'bad'),
      kv('serial', 'identity.serial', d.serial), kv('next attempt', 'identity.next', (fmtTime(d.nextRotation) + ' ' + fmtRelative(d.nextRotation, now)).trim()), kv('schedule', 'identity.schedule', d.schedule),
      kv('last rotation', 'identity.lastRotation', last), kv('failures in a row', 'identity.failures', d.consecutiveFailures),
      d.lastError === undefined ? null : kv('last failure', 'identity.lastError', fmtTime(d.lastError.at) + ': ' + str(d.lastError.message), 'bad')), lifetime(d, now)];
  });
}
function niceMax(max) {
  if (!(max > 0)) return 1;
  var p = Math.pow(10, Math.floor(Math.log10(max))), ms = [1, 2, 5, 10];
  for (var i = 0; i < ms.length; i++) if (ms[i] * p >= max) return ms[i] * p;
  return 10 * p;
}
function chartLines(points, top, windowMs, now) {
  var lines = [], cur = [], r = function (n) { return Math.round(n * 10) / 10; };
  points.forEach(function (p) {
    if (p.value === null || p.at < now - windowMs) { if (cur.length > 0) lines.push(cur.join(' ')); cur = []; return; }
    cur.push(r(Math.min(1, Math.max(0, 1 - (now - p.at) / windowMs)) * CHART_W) + ',' + r(CHART_H - 2 - Math.min(1, p.value / top) * (CHART_H - 4)));
  });
  if (cur.length > 0) lines.push(cur.join(' '));
  return lines.map(function (l) { return l.indexOf(' ') >= 0 ? l : l + ' ' + l.replace(/^([\d.]+)/, function (x) { return String(Math.max(0, Number(x) - 3)); }); });
}
function chart(key, title, values, fixedTop, format, windowSeconds, now) {
  var known = values.map(function (v) { return v.value; }).filter(function (v) { return v !== null; });
  var top = fixedTop !== undefined ? fixedTop : niceMax(Math.max.apply(null, [0].concat(known)));
  var lines = chartLines(values, top, windowSeconds * 1000, now);
  return el('figure', { 'class': 'chart', 'data-chart': key },
    el('figcaption', null, title + ': ', el('b', { 'data-k': key + '.last' }, known.length === 0 ? 'no data yet' : format(known[known.length - 1])), ' ',
      el('span', { 'class': 'note' }, '(scale ', el('span', { 'data-k': key + '.top' }, format(top)), ', ', el('span', { 'data-k': key + '.points' }, String(known.length)), ' points)')),
    el('svg:svg', { viewBox: '0 0 ' + CHART_W + ' ' + CHART_H, width: CHART_W, height: CHART_H, role: 'img', 'aria-label': title }, el('svg:rect', { 'class': 'plot', x: 0, y: 0, width: CHART_W, height: CHART_H }),
      lines.map(function (pts) { return el('svg:polyline', { 'class': 'series', points: pts }); })),
    el('div', { 'class': 'axis' }, el('span', null, '-' + Math.round(windowSeconds / 60) + ' min'), el('span', null, 'now')));
}
function dnsSection(s, history, now) {
  return capability('dns', 'DNS', s, function (d) {
    var c = d.cache, health = (d.upstreams && d.upstreams.health) || [], problems = (d.mesh && d.mesh.problems) || [];
    var qps = history.points.map(function (p) { return { at: p.at, value: p.dnsQps }; }), ratio = history.points.map(function (p) { return { at: p.at, value: p.dnsCacheHitRatio }; });
    return [el('dl', null, kv('listening', 'dns.listeners', (d.listeners || []).map(function (l) { return l.address; }).join(', ')), kv('queries answered', 'dns.queries', d.queries),
      kv('cache', 'dns.cache', c === undefined ? '' : c.size + ' / ' + c.capacity + ' entries, hit rate ' + pct(c.hitRate)), kv('in flight', 'dns.inFlight', d.inFlight),
      kv('mesh names', 'dns.meshHosts', d.mesh && d.mesh.hosts), kv('last mesh load', 'dns.lastLoad', fmtTime(d.mesh && d.mesh.lastLoad))),
      el('div', { 'class': 'charts' }, chart('dns.qps', 'queries per second', qps, undefined, function (v) { return String(Math.round(v * 10) / 10); }, history.windowSeconds, now), chart('dns.hitRatio', 'cache hit ratio', ratio, 1, pct, history.windowSeconds, now)),
      health.length === 0 ? null : el('table', null, el('thead', null, el('tr', null, ['upstream', 'health', 'queries', 'failures', 'RTT'].map(function (t) { return el('th', null, t); }))), el('tbody', null, health.map(function (u) {
        return el('tr', null, el('td', { 'data-k': 'dns.upstream.server' }, str(u.server)), el('td', { 'class': u.healthy ? 'ok' : 'bad', 'data-k': 'dns.upstream.healthy' }, u.healthy ? 'healthy' : 'failing'), el('td', { 'data-k': 'dns.upstream.queries' }, str(u.queries)), el('td', { 'data-k': 'dns.upstream.failures' }, str(u.failures)), el('td', { 'data-k': 'dns.upstream.rtt' }, u.rttMs === undefined ? '' : u.rttMs + ' ms'));
      }))),
      problems.length === 0 ? null : [el('h3', null, 'ServiceEntry problems (serving the last good table)'), el('ul', null, problems.slice(0, 50).map(function (p) { return el('li', { 'class': 'bad', 'data-k': 'dns.problem' }, str(p.file) + ': ' + str(p.reason)); })), more(Math.min(50, problems.length), problems.length, 'dns.problems.more')]];
  });
}
function captureSection(s, now) {
  return capability('capture', 'Capture', s, function (d) {
    var ra = d.rulesApplied, drift = d.lastDrift || [];
    return [el('dl', null, kv('rules', 'capture.rules', ra === undefined ? '' : (ra.ipv4 + ra.ipv6) + ' (IPv4 ' + ra.ipv4 + ', IPv6 ' + ra.ipv6 + ')'), kv('backend', 'capture.backend', d.backend),
      kv('verified', 'capture.verified', d.verified === undefined ? '' : d.verified ? 'yes' : 'no', d.verified === true ? 'ok' : 'bad'), kv('last verification', 'capture.lastVerify', (fmtTime(d.lastVerify) + ' ' + fmtRelative(d.lastVerify, now)).trim()),
      kv('last apply', 'capture.lastApply', fmtTime(d.lastApply)), kv('drift repairs', 'capture.driftRepairs', d.driftRepairs), kv('errors', 'capture.errors', d.captureErrors),
      d.lastCaptureError === undefined ? null : kv('last error', 'capture.lastError', fmtTime(d.lastCaptureError.at) + ': ' + str(d.lastCaptureError.message), 'bad')),
      drift.length === 0 ? null : [el('h3', null, 'Last drift repaired'), el('ul', null, drift.slice(0, 20).map(function (l) { return el('li', { 'data-k': 'capture.drift' }, str(l)); }))]];
  });
}
function mainPart(doc, history, now) {
  return el('main', null, controllerTable(doc), identitySection(doc.controllers.identity, now), dnsSection(doc.controllers.dns, history, now), captureSection(doc.controllers.capture, now), overlaySection(doc.controllers.overlay));
}
`;
