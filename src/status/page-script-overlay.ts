/** The page script's overlay section (mirrors page-overlay.ts). Part of PAGE_SCRIPT. */
export const PAGE_SCRIPT_OVERLAY = String.raw`
var MAX_ROWS = 200;
function headRow(names) { return el('thead', null, el('tr', null, names.map(function (t) { return el('th', null, t); }))); }
function peerTable(rows, total) {
  if (rows.length === 0) return el('p', { 'class': 'note', 'data-k': 'overlay.peers.none' }, 'No peers.');
  var body = rows.slice(0, MAX_ROWS);
  return [el('table', null, headRow(['subnet', 'public IP', 'VTEP MAC', 'source', 'state']), el('tbody', null, body.map(function (p) {
    return el('tr', null, el('td', { 'data-k': 'overlay.peer.subnet' }, str(p.subnet)), el('td', { 'data-k': 'overlay.peer.publicIP' }, str(p.publicIP)), el('td', { 'data-k': 'overlay.peer.mac' }, str(p.vtepMAC)), el('td', { 'data-k': 'overlay.peer.source' }, str(p.source)),
      el('td', { 'class': p.programmed ? 'ok' : 'bad', 'data-k': 'overlay.peer.state' }, p.programmed ? 'programmed' : 'not programmed' + (p.reason === undefined ? '' : ': ' + str(p.reason))));
  }))), more(body.length, total, 'overlay.peers.more')];
}
function refusedTable(rows, total) {
  if (total === 0) return el('p', { 'class': 'note', 'data-k': 'overlay.refused.none' }, 'None refused.');
  var body = rows.slice(0, MAX_ROWS);
  return [el('table', null, headRow(['source', 'key', 'subnet', 'public IP', 'VTEP MAC', 'why']), el('tbody', null, body.map(function (r) {
    return el('tr', null, el('td', { 'data-k': 'overlay.refused.source' }, str(r.source)), el('td', { 'data-k': 'overlay.refused.key' }, str(r.key)), el('td', { 'data-k': 'overlay.refused.subnet' }, str(r.subnet)), el('td', { 'data-k': 'overlay.refused.publicIP' }, str(r.publicIP)), el('td', { 'data-k': 'overlay.refused.mac' }, str(r.vtepMAC)),
      el('td', { 'data-k': 'overlay.refused.reason' }, str(r.reason) + ': ' + str(r.message)));
  }))), more(body.length, total, 'overlay.refused.more')];
}
function sourcesText(sources) {
  return Object.keys(sources || {}).map(function (name) {
    var s = sources[name], flags = [s.peers + ' peers'];
    if (s.connected === false) flags.push('disconnected' + (s.reason === undefined ? '' : ': ' + str(s.reason)));
    return name + ' (' + flags.join(', ') + ')';
  }).join('; ');
}
function deviceText(dev) {
  if (dev === undefined || dev === null) return '';
  return [str(dev.name), 'VNI ' + str(dev.vni), 'MTU ' + str(dev.mtu), dev.up === false ? 'down' : undefined].filter(function (x) { return x !== undefined; }).join(', ');
}
function overlaySection(s) {
  return capability('overlay', 'Overlay', s, function (d) {
    var dev = d.device || undefined, peers = d.peers || {}, holding = d.holding || [];
    var underlay = dev === undefined || dev.underlay === undefined ? '' : str(dev.underlay.name) + ' ' + str(dev.underlay.address);
    return [el('dl', null, kv('device', 'overlay.device', deviceText(dev)), kv('VTEP MAC', 'overlay.mac', dev && dev.mac), kv('own subnet', 'overlay.subnet', dev && dev.subnet),
      kv('underlay', 'overlay.underlay', underlay), kv('peers programmed', 'overlay.programmed', peers.programmed), kv('peers desired', 'overlay.desired', peers.desired), kv('sources', 'overlay.sources', sourcesText(d.sources)),
      holding.length === 0 ? null : kv('holding last peers of', 'overlay.holding', holding.join(', '), 'bad'), kv('drift repairs', 'overlay.driftRepairs', d.driftRepairs)),
      el('h3', null, 'Peers'), peerTable(peers.list || [], peers.desired || 0),
      el('h3', null, 'Refused leases and peers'), refusedTable(d.refused || [], d.refusedCount || 0)];
  });
}
`;
