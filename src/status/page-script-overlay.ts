/** The page script's overlay section (mirrors page-overlay.ts). Part of PAGE_SCRIPT. */
export const PAGE_SCRIPT_OVERLAY = String.raw`
var MAX_ROWS = 200;
function peerView(d) {
  var list = d.peers && d.peers.list;
  if (Array.isArray(list)) return { rows: list.slice(0, MAX_ROWS), total: list.length, partial: false };
  var why = {};
  (Array.isArray(d.retrying) ? d.retrying : []).forEach(function (r) {
    var subnet = (text(r.entry) || '').split('|').filter(function (p) { return /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(p); })[0];
    if (subnet !== undefined && r.lastError !== undefined) why[subnet] = shown(r.lastError);
  });
  var failed = d.peers && Array.isArray(d.peers.failed) ? d.peers.failed : [];
  var rows = failed.map(function (s) { return { subnet: shown(s), programmed: false, reason: Object.prototype.hasOwnProperty.call(why, String(s)) ? why[String(s)] : 'kernel write failed' }; });
  return { rows: rows.slice(0, MAX_ROWS), total: rows.length, partial: true };
}
function refusals(d) {
  var rows = [];
  if (Array.isArray(d.refused)) rows = rows.concat(d.refused);
  (Array.isArray(d.conflicts) ? d.conflicts : []).forEach(function (c) {
    var ignored = rec(c.ignored), kept = rec(c.kept);
    var keptAs = [text(kept && kept.source), text(kept && kept.publicIP)].filter(defined).join(' ');
    var row = { source: text(ignored && ignored.source), subnet: text(c.subnet), publicIP: text(ignored && ignored.publicIP), vtepMAC: text(ignored && ignored.vtepMAC), reason: text(c.reason) || 'conflict' };
    if (keptAs !== '') row.message = 'kept ' + keptAs;
    rows.push(row);
  });
  Object.keys(rec(d.sources) || {}).forEach(function (name) {
    var invalid = rec(rec(d.sources[name]) && d.sources[name].invalidLeases) || {};
    Object.keys(invalid).forEach(function (key) { rows.push({ source: name, key: key, reason: 'invalid', message: shown(invalid[key]) }); });
  });
  var total = typeof d.refusedCount === 'number' && d.refusedCount > rows.length ? d.refusedCount : rows.length;
  return { rows: rows.slice(0, MAX_ROWS), total: total };
}
function peerTable(view) {
  if (view.rows.length === 0) return el('p', { 'class': 'note', 'data-k': 'overlay.peers.none' }, view.partial ? 'No failing peers.' : 'No peers.');
  return [el('table', null, el('thead', null, el('tr', null, ['subnet', 'public IP', 'VTEP MAC', 'source', 'state'].map(function (t) { return el('th', null, t); }))),
    el('tbody', null, view.rows.map(function (p) {
      return el('tr', null, el('td', { 'data-k': 'overlay.peer.subnet' }, str(p.subnet)), el('td', { 'data-k': 'overlay.peer.publicIP' }, str(p.publicIP)), el('td', { 'data-k': 'overlay.peer.mac' }, str(p.vtepMAC)), el('td', { 'data-k': 'overlay.peer.source' }, str(p.source)),
        el('td', { 'class': p.programmed === true ? 'ok' : 'bad', 'data-k': 'overlay.peer.state' }, p.programmed === true ? 'programmed' : 'not programmed' + (p.reason === undefined ? '' : ': ' + str(p.reason))));
    }))), more(view.rows.length, view.total, 'overlay.peers.more')];
}
function refusedTable(view) {
  if (view.total === 0) return el('p', { 'class': 'note', 'data-k': 'overlay.refused.none' }, 'None refused.');
  return [el('table', null, el('thead', null, el('tr', null, ['source', 'subnet or key', 'public IP', 'VTEP MAC', 'why'].map(function (t) { return el('th', null, t); }))),
    el('tbody', null, view.rows.map(function (r) {
      return el('tr', null, el('td', { 'data-k': 'overlay.refused.source' }, str(r.source)), el('td', { 'data-k': 'overlay.refused.subnet' }, str(r.subnet !== undefined ? r.subnet : r.key)), el('td', { 'data-k': 'overlay.refused.publicIP' }, str(r.publicIP)), el('td', { 'data-k': 'overlay.refused.mac' }, str(r.vtepMAC)),
        el('td', { 'data-k': 'overlay.refused.reason' }, [r.reason, r.message].filter(defined).map(str).join(': ')));
    }))), more(view.rows.length, view.total, 'overlay.refused.more')];
}
function overlaySection(s) {
  return capability('overlay', 'Overlay', s, function (d) {
    var dev = rec(d.device), underlay = rec(dev && dev.underlay), peers = peerView(d);
    var device = dev === undefined ? '' : [text(dev.name), dev.vni === undefined ? undefined : 'VNI ' + shown(dev.vni), dev.mtu === undefined ? undefined : 'MTU ' + shown(dev.mtu), dev.up === false ? 'down' : undefined].filter(function (x) { return x !== undefined; }).join(', ');
    var sources = Object.keys(rec(d.sources) || {}).map(function (name) {
      var src = rec(d.sources[name]) || {};
      var flags = [typeof src.peers === 'number' ? src.peers + ' peers' : undefined, src.connected === false ? 'disconnected' : undefined, text(src.reason)].filter(function (x) { return x !== undefined; });
      return name + (flags.length === 0 ? '' : ' (' + flags.join(', ') + ')');
    }).join('; ');
    return [el('dl', null, kv('device', 'overlay.device', device), kv('VTEP MAC', 'overlay.mac', text(dev && dev.mac)), kv('own subnet', 'overlay.subnet', text(dev && dev.subnet)),
      kv('underlay', 'overlay.underlay', [text(underlay && underlay.name), text(underlay && underlay.address)].filter(function (x) { return x !== undefined; }).join(' ')),
      kv('peers programmed', 'overlay.programmed', d.peers && d.peers.programmed), kv('peers desired', 'overlay.desired', d.peers && d.peers.desired), kv('sources', 'overlay.sources', sources), kv('drift repairs', 'overlay.driftRepairs', d.driftRepairs)),
      el('h3', null, peers.partial ? 'Peers not programmed' : 'Peers'),
      peers.partial ? el('p', { 'class': 'note', 'data-k': 'overlay.peers.partial' }, 'This overlay reports peer counts, not each peer: only the failing ones are listed.') : null,
      peerTable(peers), el('h3', null, 'Refused leases and peers'), refusedTable(refusals(d))];
  });
}
`;
