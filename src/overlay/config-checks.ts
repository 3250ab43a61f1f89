/**
 * Cross-field checks of the overlay section (pure): this host's subnet against `network`, and
 * the static peers through the overlay's peer gate (the same reasons it gives at run time).
 */
import type { CheckIssue } from '../config/check-issue.js';
import { gatePeers, type Candidate, type LocalFacts } from './peer-gate.js';
import { isIp, isMac } from '../net/address.js';
import { intToIpv4, ipv4Range, parseCidr, type Cidr } from '../net/cidr.js';

interface OverlayShape {
  enabled: boolean;
  network: string;
  subnet: string;
  peers: readonly { subnet: string; publicIP: string; vtepMAC: string }[];
  etcd: { endpoints: readonly string[] };
  kubernetes?: { enabled: boolean };
}

interface Range {
  text: string;
  first: number;
  last: number;
}

function ipv4Cidr(text: string, path: (string | number)[], issues: CheckIssue[]): Range | undefined {
  const c: Cidr | undefined = parseCidr(text);
  if (c === undefined) return undefined; // the schema already reported it
  if (c.family !== 4) {
    issues.push({ path, message: `${text}: only IPv4 subnets are supported (flannel's IPv6 device is not implemented)` });
    return undefined;
  }
  const [first, last] = ipv4Range(c);
  if (intToIpv4(first) !== c.address) {
    issues.push({ path, message: `${text} is not a network address; write ${intToIpv4(first)}/${c.prefix}` });
  }
  return { text, first, last };
}

const inside = (outer: Range, inner: Range): boolean => outer.first <= inner.first && inner.last <= outer.last;

export function checkOverlay(o: OverlayShape): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const network = o.network === '' ? undefined : ipv4Cidr(o.network, ['overlay', 'network'], issues);
  const own = o.subnet === '' ? undefined : ipv4Cidr(o.subnet, ['overlay', 'subnet'], issues);
  if (o.enabled && o.subnet === '' && o.etcd.endpoints.length === 0 && o.kubernetes?.enabled !== true) {
    issues.push({ path: ['overlay', 'subnet'], message: "required when overlay is enabled without a registry (overlay.etcd or overlay.kubernetes): this host's subnet, e.g. 10.234.3.0/24" });
  }
  if (network !== undefined && own !== undefined && !inside(network, own)) {
    issues.push({ path: ['overlay', 'subnet'], message: `${own.text} is outside overlay.network ${network.text}` });
  }
  issues.push(...checkStaticPeers(o.peers, network === undefined ? '' : o.network, own === undefined ? '' : o.subnet));
  return issues;
}

/**
 * The static table through the same gate as every peer at run time, with what is knowable
 * without the kernel (the network, this host's subnet, address and MAC classes, claims). Formats
 * the schema already rejected are not reported twice.
 */
function checkStaticPeers(peers: OverlayShape['peers'], network: string, ownSubnet: string): CheckIssue[] {
  const candidates: Candidate[] = peers.map((p, i) => ({ source: 'config', key: `overlay.peers[${i}]`, subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC, order: i }));
  const facts: LocalFacts = { ...(network === '' ? {} : { network: { network } }), ...(ownSubnet === '' ? {} : { ownSubnet }), addresses: [], connected: [], foreignRoutes: [] };
  const issues: CheckIssue[] = [];
  for (const r of gatePeers(candidates, facts, ['config']).refused) {
    const index = Number(/\[(\d+)\]$/.exec(r.key)?.[1] ?? -1);
    const peer = peers[index];
    if (peer === undefined || schemaRejected(peer, r.field)) continue;
    issues.push({ path: ['overlay', 'peers', index, r.field], message: r.message.replace(/^(publicIP|vtepMAC) /, '') });
  }
  return issues;
}

function schemaRejected(peer: OverlayShape['peers'][number], field: 'subnet' | 'publicIP' | 'vtepMAC'): boolean {
  if (field === 'subnet') return parseCidr(peer.subnet) === undefined;
  if (field === 'publicIP') return !isIp(peer.publicIP);
  return !isMac(peer.vtepMAC);
}
