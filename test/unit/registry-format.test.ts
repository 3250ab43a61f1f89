import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ETCD_BACKOFF, backoffDelay } from '../../src/registry/etcd-backoff.js';
import { decodeLease, encodeLease, leaseToPeer, subnetFromKey, subnetKey } from '../../src/registry/etcd-lease-format.js';
import { checkAgainstOverlay, leaseBounds, parseNetworkConfig, subnetProblem } from '../../src/registry/etcd-network-config.js';
import { prefixRangeEnd } from '../../src/registry/etcd-prefix-follower.js';
import { peersFromEntries } from '../../src/registry/etcd-peer-source.js';
import { chooseSubnet, freeSubnets } from '../../src/registry/etcd-subnet-choice.js';

const P = '/coreos.com/network';
const overlay = { vni: 1, port: 8472, network: '', subnet: '' };

describe('flannel lease records', () => {
  test('value is byte-identical to what flanneld v0.20 wrote (reference §9)', () => {
    const observed = '{"PublicIP":"192.168.77.72","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"fe:3f:4a:8c:74:a4"}}';
    assert.equal(encodeLease({ publicIP: '192.168.77.72', vni: 1, vtepMAC: 'FE:3F:4A:8C:74:A4' }), observed);
  });

  test('keys: make and parse, dual-stack keeps the IPv4 part, foreign keys ignored', () => {
    assert.equal(subnetKey(P, '10.234.3.0/24'), '/coreos.com/network/subnets/10.234.3.0-24');
    assert.equal(subnetKey(`${P}/`, '10.234.3.0/24'), '/coreos.com/network/subnets/10.234.3.0-24');
    assert.equal(subnetFromKey(P, '/coreos.com/network/subnets/10.234.58.0-24'), '10.234.58.0/24');
    assert.equal(subnetFromKey(P, '/coreos.com/network/subnets/10.5.52.0-24&fc00::-64'), '10.5.52.0/24');
    assert.equal(subnetFromKey(P, '/coreos.com/network/subnets/garbage'), undefined);
    assert.equal(subnetFromKey(P, '/other/subnets/10.5.52.0-24'), undefined);
    assert.equal(subnetFromKey(P, '/coreos.com/network/subnets/10.5.52.0-99'), undefined);
  });

  test('decode reads what flanneld reads: case-insensitive fields, optional VNI and PublicIPv6', () => {
    const a = decodeLease('{"publicip":"10.0.0.5","BackendType":"vxlan","BackendData":{"VtepMAC":"AA:bb:cc:dd:ee:ff"}}');
    assert.deepEqual(a, { publicIP: '10.0.0.5', backendType: 'vxlan', vtepMAC: 'aa:bb:cc:dd:ee:ff', vni: 0 });
    assert.throws(() => decodeLease('nope'), /not JSON/);
    assert.throws(() => decodeLease('{"PublicIP":"x","BackendType":"vxlan"}'), /PublicIP/);
    assert.throws(() => decodeLease('{"PublicIP":"10.0.0.5","BackendType":"vxlan","BackendData":{}}'), /VtepMAC/);
    // flanneld skips "VXLAN" in capitals (reference §9), so do we.
    const upper = decodeLease('{"PublicIP":"10.0.0.5","BackendType":"VXLAN","BackendData":{"VtepMAC":"aa:bb:cc:dd:ee:ff"}}');
    assert.equal(leaseToPeer('10.234.1.0/24', upper), undefined);
  });

  test('peers carry key and revisions; our own lease is skipped; a lease with our address elsewhere is left to the gate', () => {
    const v = (ip: string, mac: string): string => encodeLease({ publicIP: ip, vni: 1, vtepMAC: mac });
    let rev = 10;
    const kv = (value: string): { value: string; createRevision: string; modRevision: string } => {
      rev += 1;
      return { value, createRevision: String(rev), modRevision: String(rev + 100) };
    };
    const entries = new Map([
      [subnetKey(P, '10.234.9.0/24'), kv(v('192.168.0.9', '02:00:00:00:00:09'))],
      [subnetKey(P, '10.234.2.0/24'), kv(v('192.168.0.2', '02:00:00:00:00:02'))],
      [subnetKey(P, '10.234.3.0/24'), kv(v('192.168.0.3', '02:00:00:00:00:03'))],
      [subnetKey(P, '10.234.4.0/24'), kv(v('192.168.0.99', '02:00:00:00:00:04'))],
      [subnetKey(P, '10.234.5.0/24'), kv('broken')],
    ]);
    const peers = peersFromEntries(P, entries, { subnet: '10.234.3.0/24', publicIP: '192.168.0.99' });
    assert.deepEqual(peers.map((p) => p.subnet), ['10.234.2.0/24', '10.234.4.0/24', '10.234.5.0/24', '10.234.9.0/24']);
    assert.deepEqual(peers[0], { subnet: '10.234.2.0/24', publicIP: '192.168.0.2', vtepMAC: '02:00:00:00:00:02', source: 'etcd', key: subnetKey(P, '10.234.2.0/24'), order: 12, revision: '112' });
    assert.equal(peers[2]?.invalid, 'lease value is not JSON');
    // Before our subnet is known, a lease carrying our address is ours (flannel's rule).
    const early = peersFromEntries(P, entries, { publicIP: '192.168.0.99' });
    assert.deepEqual(early.map((p) => p.subnet), ['10.234.2.0/24', '10.234.3.0/24', '10.234.5.0/24', '10.234.9.0/24']);
  });
});

describe('flannel network config', () => {
  test('defaults as flannel computes them', () => {
    const net = parseNetworkConfig('{"Network":"10.234.0.0/16","Backend":{"Type":"vxlan"}}', 'cfg');
    assert.deepEqual(net, { network: '10.234.0.0/16', subnetLen: 24, subnetMin: '10.234.1.0', subnetMax: '10.234.255.0', minSet: false, maxSet: false, backendType: 'vxlan', vni: 1, port: 0 });
    // The gate holds leases to SubnetMin..SubnetMax only where the config sets them.
    assert.deepEqual(leaseBounds(net), { network: '10.234.0.0/16', subnetLen: 24 });
    const ranged = parseNetworkConfig('{"Network":"10.234.0.0/16","SubnetMin":"10.234.8.0","Backend":{"Type":"vxlan"}}', 'cfg');
    assert.deepEqual(leaseBounds(ranged), { network: '10.234.0.0/16', subnetLen: 24, subnetMin: '10.234.8.0' });
    const small = parseNetworkConfig('{"Network":"10.9.0.0/24","Backend":{"Type":"vxlan","VNI":7,"Port":4789}}', 'cfg');
    assert.equal(small.subnetLen, 26);
    assert.equal(small.subnetMin, '10.9.0.64');
    assert.equal(small.subnetMax, '10.9.0.192');
  });

  test('bad configs say what is wrong', () => {
    assert.throws(() => parseNetworkConfig('{', 'etcd key /x/config'), /etcd key \/x\/config is not JSON/);
    assert.throws(() => parseNetworkConfig('{"Network":"10.234.0.0/16"}', 'cfg'), /Backend.Type is "udp"/);
    assert.throws(() => parseNetworkConfig('{"Network":"nope","Backend":{"Type":"vxlan"}}', 'cfg'), /Network must be an IPv4 CIDR/);
    assert.throws(() => parseNetworkConfig('{"Network":"10.0.0.0/16","SubnetLen":16,"Backend":{"Type":"vxlan"}}', 'cfg'), /SubnetLen 16/);
  });

  test('VNI and port mismatches are clear errors naming both sides', () => {
    const net = parseNetworkConfig('{"Network":"10.234.0.0/16","Backend":{"Type":"vxlan","VNI":4,"Port":4789}}', 'etcd key /p/config');
    const problems = checkAgainstOverlay(net, overlay, 'etcd key /p/config');
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /overlay.vni is 1 but etcd key \/p\/config says Backend.VNI 4.*set overlay.vni: 4/);
    assert.match(problems[1] ?? '', /overlay.port is 8472 .* Backend.Port 4789; set overlay.port: 4789/);
    const def = parseNetworkConfig('{"Network":"10.234.0.0/16","Backend":{"Type":"vxlan"}}', 'c');
    assert.deepEqual(checkAgainstOverlay(def, overlay, 'c'), []);
    assert.match(checkAgainstOverlay(def, { ...overlay, network: '10.9.0.0/16' }, 'c')[0] ?? '', /overlay.network is 10.9.0.0\/16/);
    assert.match(checkAgainstOverlay(def, { ...overlay, subnet: '10.99.1.0/24' }, 'c')[0] ?? '', /outside Network/);
    assert.match(subnetProblem(def, '10.234.1.0/25') ?? '', /must be a \/24/);
    assert.match(subnetProblem(def, '10.234.1.7/24') ?? '', /did you mean 10.234.1.0\/24/);
  });
});

describe('subnet choice (flannel tryAcquireLease order)', () => {
  const net = parseNetworkConfig('{"Network":"10.234.0.0/16","Backend":{"Type":"vxlan"}}', 'c');
  const lease = (subnet: string, publicIP: string): { subnet: string; publicIP: string; modRevision: string } => ({ subnet, publicIP, modRevision: '7' });
  const base = { net, publicIP: '192.168.0.5', configured: '', persisted: '', leases: [] as ReturnType<typeof lease>[], random: () => 0 };

  test('configured subnet: create if free, take over if ours, blocked if another host holds it', () => {
    assert.deepEqual(chooseSubnet({ ...base, configured: '10.234.7.0/24' }), { kind: 'create', subnet: '10.234.7.0/24', why: 'overlay.subnet' });
    const ours = chooseSubnet({ ...base, configured: '10.234.7.0/24', leases: [lease('10.234.7.0/24', '192.168.0.5')] });
    assert.equal(ours.kind, 'takeover');
    const theirs = chooseSubnet({ ...base, configured: '10.234.7.0/24', leases: [lease('10.234.7.0/24', '192.168.0.6')] });
    assert.equal(theirs.kind, 'blocked');
    assert.match(theirs.kind === 'blocked' ? theirs.reason : '', /held by 192.168.0.6/);
  });

  test('then the lease carrying our IP, then the persisted subnet, then a random free one', () => {
    const mine = chooseSubnet({ ...base, persisted: '10.234.9.0/24', leases: [lease('10.234.4.0/24', '192.168.0.5')] });
    assert.deepEqual(mine, { kind: 'takeover', subnet: '10.234.4.0/24', modRevision: '7', why: 'lease already carrying our public IP' });
    assert.deepEqual(chooseSubnet({ ...base, persisted: '10.234.9.0/24' }), { kind: 'create', subnet: '10.234.9.0/24', why: 'subnet persisted in stateDir' });
    const taken = chooseSubnet({ ...base, persisted: '10.234.9.0/24', leases: [lease('10.234.9.0/24', '192.168.0.8'), lease('10.234.1.0/24', '192.168.0.1')] });
    assert.deepEqual(taken, { kind: 'create', subnet: '10.234.2.0/24', why: 'free subnet' });
    const last = chooseSubnet({ ...base, random: () => 0.9999 });
    assert.equal(last.kind === 'create' ? last.subnet : '', '10.234.100.0/24');
  });

  test('free subnets skip overlaps and the first subnet; a full network is blocked', () => {
    assert.deepEqual(freeSubnets(net, [lease('10.234.0.0/23', 'x'), lease('10.234.3.0/24', 'y')], 2), ['10.234.2.0/24', '10.234.4.0/24']);
    const tiny = parseNetworkConfig('{"Network":"10.9.0.0/28","Backend":{"Type":"vxlan"}}', 'c');
    const full = chooseSubnet({ ...base, net: tiny, leases: freeSubnets(tiny, [], 10).map((s) => lease(s, 'z')) });
    assert.equal(full.kind, 'blocked');
  });
});

test('backoff doubles from 100 ms; the default cap keeps a retry within a second of etcd returning', () => {
  const mid = (): number => 0.5;
  assert.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, { initialMs: 100, maxMs: 5000, random: mid })), [100, 200, 400, 800, 5000]);
  for (const r of [0, 0.5, 0.999]) assert.ok(backoffDelay(50, { ...ETCD_BACKOFF, random: () => r }) <= 500);
});

test('prefix range end increments the last byte', () => {
  assert.equal(prefixRangeEnd('/coreos.com/network/subnets/').toString(), '/coreos.com/network/subnets0');
});
