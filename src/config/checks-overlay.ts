/**
 * Cross-field checks of the overlay section (pure): subnets that overlap, fall outside
 * `network` or equal this host's own; MACs the kernel would reject or that would collide.
 */
import { isIPv4 } from 'node:net';
import { intToIpv4, ipv4Range, parseCidr, type Cidr } from './net-types.js';

export interface CheckIssue {
  path: (string | number)[];
  message: string;
}

interface OverlayShape {
  enabled: boolean;
  network: string;
  subnet: string;
  peers: readonly { subnet: string; publicIP: string; vtepMAC: string }[];
  etcd: { endpoints: readonly string[] };
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

const overlap = (a: Range, b: Range): boolean => a.first <= b.last && b.first <= a.last;
const inside = (outer: Range, inner: Range): boolean => outer.first <= inner.first && inner.last <= outer.last;

export function checkOverlay(o: OverlayShape): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const network = o.network === '' ? undefined : ipv4Cidr(o.network, ['overlay', 'network'], issues);
  const own = o.subnet === '' ? undefined : ipv4Cidr(o.subnet, ['overlay', 'subnet'], issues);
  if (o.enabled && o.subnet === '' && o.etcd.endpoints.length === 0) {
    issues.push({ path: ['overlay', 'subnet'], message: "required when overlay is enabled without overlay.etcd: this host's subnet, e.g. 10.234.3.0/24" });
  }
  if (network !== undefined && own !== undefined && !inside(network, own)) {
    issues.push({ path: ['overlay', 'subnet'], message: `${own.text} is outside overlay.network ${network.text}` });
  }
  const seen: { range: Range; index: number }[] = [];
  const macs = new Map<string, number>();
  o.peers.forEach((peer, index) => {
    const path = ['overlay', 'peers', index];
    const range = ipv4Cidr(peer.subnet, [...path, 'subnet'], issues);
    if (range !== undefined) {
      if (network !== undefined && !inside(network, range)) issues.push({ path: [...path, 'subnet'], message: `${peer.subnet} is outside overlay.network ${network.text}` });
      if (own !== undefined && range.first === own.first && range.last === own.last) {
        issues.push({ path: [...path, 'subnet'], message: `${peer.subnet} is this host's own subnet (overlay.subnet); remove this peer` });
      } else if (own !== undefined && overlap(own, range)) {
        issues.push({ path: [...path, 'subnet'], message: `${peer.subnet} overlaps this host's subnet ${own.text}` });
      }
      for (const other of seen) {
        if (overlap(other.range, range)) issues.push({ path: [...path, 'subnet'], message: `${peer.subnet} overlaps overlay.peers[${other.index}].subnet ${other.range.text}` });
      }
      seen.push({ range, index });
    }
    if (peer.publicIP !== '' && !isIPv4(peer.publicIP)) issues.push({ path: [...path, 'publicIP'], message: `${peer.publicIP}: only IPv4 underlay addresses are supported` });
    const mac = peer.vtepMAC.toLowerCase();
    if (/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) {
      const first = parseInt(mac.slice(0, 2), 16);
      if (mac === '00:00:00:00:00:00') issues.push({ path: [...path, 'vtepMAC'], message: 'the all-zero MAC is the flood entry, not a VTEP; use the peer\'s flannel.<vni> MAC' });
      else if ((first & 1) === 1) issues.push({ path: [...path, 'vtepMAC'], message: `${peer.vtepMAC} is a multicast MAC; a VTEP MAC is unicast` });
      const dup = macs.get(mac);
      if (dup !== undefined) issues.push({ path: [...path, 'vtepMAC'], message: `${peer.vtepMAC} is also overlay.peers[${dup}].vtepMAC; every host has its own VTEP MAC` });
      else macs.set(mac, index);
    }
  });
  return issues;
}
