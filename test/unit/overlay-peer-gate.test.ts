import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gatePeers, type Candidate, type LocalFacts, type RefusalReason } from '../../src/overlay/peer-gate.js';

/** The VM: LAN 192.168.0.0/24 (address .81), a docker bridge, a VPN route inside the overlay's range. */
const facts: LocalFacts = {
  network: { network: '10.234.0.0/16', subnetLen: 24, subnetMin: '10.234.1.0', subnetMax: '10.234.250.0' },
  ownSubnet: '10.234.3.0/24',
  ownMAC: 'fe:e0:e4:83:b0:09',
  addresses: ['192.168.0.81', '127.0.0.1', '172.17.0.1', '10.234.3.0'],
  connected: ['192.168.0.0/24', '127.0.0.0/8', '172.17.0.0/16'],
  foreignRoutes: ['0.0.0.0/0', '192.168.0.0/24', '10.0.0.0/8', '10.234.240.0/24', '198.51.100.0/24'],
};

let n = 0;
function cand(subnet: string, publicIP: string, vtepMAC: string, extra: Partial<Candidate> = {}): Candidate {
  n += 1;
  return { source: 'etcd', key: `/coreos.com/network/subnets/${subnet.replace('/', '-')}#${n}`, subnet, publicIP, vtepMAC, order: n, revision: String(n), ...extra };
}

const honest = cand('10.234.1.0/24', '192.168.0.72', '5a:09:44:c7:a3:fb', { order: 10 });

function reasonOf(c: Candidate, f: LocalFacts = facts): RefusalReason | 'accepted' {
  const r = gatePeers([honest, c], f);
  if (r.accepted.some((p) => p.key === c.key)) return 'accepted';
  const refusal = r.refused.find((x) => x.key === c.key);
  assert.ok(refusal !== undefined, `neither accepted nor refused: ${c.key}`);
  assert.ok(r.accepted.some((p) => p.key === honest.key), 'the honest peer is never affected');
  return refusal.reason;
}

void describe('peer gate', () => {
  void test('an honest lease passes, normalized', () => {
    const r = gatePeers([cand('10.234.2.0/24', '192.168.0.73', '7A:B4:48:5F:69:56')], facts);
    assert.deepEqual(r.refused, []);
    assert.equal(r.accepted[0]?.vtepMAC, '7a:b4:48:5f:69:56');
    assert.equal(r.accepted[0]?.vtep, '10.234.2.0');
  });

  void test('every subnet refusal class', () => {
    assert.equal(reasonOf(cand('128.0.0.0/1', '192.168.0.90', '02:00:00:00:00:01')), 'outside-network');
    assert.equal(reasonOf(cand('192.168.0.0/24', '192.168.0.90', '02:00:00:00:00:02')), 'outside-network');
    assert.equal(reasonOf(cand('10.235.1.0/24', '192.168.0.90', '02:00:00:00:00:03')), 'outside-network');
    assert.equal(reasonOf(cand('10.234.4.0/23', '192.168.0.90', '02:00:00:00:00:04')), 'subnet-length');
    assert.equal(reasonOf(cand('10.234.4.128/25', '192.168.0.90', '02:00:00:00:00:05')), 'subnet-length');
    assert.equal(reasonOf(cand('10.234.0.0/24', '192.168.0.90', '02:00:00:00:00:06')), 'outside-subnet-range');
    assert.equal(reasonOf(cand('10.234.255.0/24', '192.168.0.90', '02:00:00:00:00:07')), 'outside-subnet-range');
    assert.equal(reasonOf(cand('10.234.3.0/24', '192.168.0.90', '02:00:00:00:00:08')), 'own-subnet');
    assert.equal(reasonOf(cand('10.234.5.7/24', '192.168.0.90', '02:00:00:00:00:09')), 'not-network-address');
    assert.equal(reasonOf(cand('fd00::/64', '192.168.0.90', '02:00:00:00:00:0a')), 'malformed');
    assert.equal(reasonOf(cand('10.234.240.0/24', '192.168.0.90', '02:00:00:00:00:0b')), 'foreign-route');
    assert.equal(reasonOf({ ...cand('10.234.9.0/24', '', ''), invalid: 'lease value is not JSON' }), 'malformed');
    // Without the registry's network, the host's own networks still bound what a peer may claim.
    const bare: LocalFacts = { ...facts, network: undefined, foreignRoutes: facts.foreignRoutes.filter((r) => r !== '10.0.0.0/8') };
    assert.equal(reasonOf(cand('192.168.0.0/24', '192.168.0.90', '02:00:00:00:00:0c'), bare), 'connected-network');
    assert.equal(reasonOf(cand('128.0.0.0/1', '192.168.0.90', '02:00:00:00:00:0d'), bare), 'connected-network');
    assert.equal(reasonOf(cand('198.51.100.0/25', '192.168.0.90', '02:00:00:00:00:0e'), bare), 'foreign-route');
    assert.equal(reasonOf(cand('0.0.0.0/0', '192.168.0.90', '02:00:00:00:00:0f'), bare), 'own-subnet');
  });

  void test('routes covering the whole overlay (default, a wide corporate route) do not block its peers', () => {
    assert.equal(reasonOf(cand('10.234.7.0/24', '192.168.0.90', '02:00:00:00:00:10')), 'accepted');
  });

  void test('every public IP refusal class', () => {
    const ip = (publicIP: string, i: number): RefusalReason | 'accepted' => reasonOf(cand(`10.234.${20 + i}.0/24`, publicIP, `02:00:00:00:01:${(16 + i).toString(16)}`));
    assert.equal(ip('0.1.2.3', 0), 'public-ip-class');
    assert.equal(ip('127.0.0.1', 1), 'public-ip-class');
    assert.equal(ip('127.9.9.9', 2), 'public-ip-class');
    assert.equal(ip('169.254.1.1', 3), 'public-ip-class');
    assert.equal(ip('224.0.0.1', 4), 'public-ip-class');
    assert.equal(ip('239.1.1.1', 5), 'public-ip-class');
    assert.equal(ip('255.255.255.255', 6), 'public-ip-class');
    assert.equal(ip('192.168.0.255', 7), 'public-ip-class');
    assert.equal(ip('192.168.0.0', 8), 'public-ip-class');
    assert.equal(ip('192.168.0.81', 9), 'public-ip-own');
    assert.equal(ip('172.17.0.1', 10), 'public-ip-own');
    assert.equal(ip('10.234.9.9', 11), 'public-ip-overlay');
    assert.equal(ip('fd00::1', 12), 'malformed');
    assert.equal(ip('192.168.0.91', 13), 'accepted');
  });

  void test('every MAC refusal class', () => {
    const mac = (vtepMAC: string, i: number): RefusalReason | 'accepted' => reasonOf(cand(`10.234.${40 + i}.0/24`, `192.168.0.${120 + i}`, vtepMAC));
    assert.equal(mac('00:00:00:00:00:00', 0), 'mac-class');
    assert.equal(mac('ff:ff:ff:ff:ff:ff', 1), 'mac-class');
    assert.equal(mac('01:00:5e:00:00:01', 2), 'mac-class');
    assert.equal(mac('33:33:00:00:00:01', 3), 'mac-class');
    assert.equal(mac('FE:E0:E4:83:B0:09', 4), 'mac-own');
    assert.equal(mac('not-a-mac', 5), 'malformed');
    assert.equal(mac('02:00:00:00:00:99', 6), 'accepted');
  });

  void test('claims: the earliest create revision keeps a MAC, a public IP or a subnet', () => {
    const reusedMac = cand('10.234.50.0/24', '192.168.0.150', honest.vtepMAC, { order: 20 });
    const reusedIp = cand('10.234.51.0/24', honest.publicIP, '02:00:00:00:00:51', { order: 21 });
    assert.equal(reasonOf(reusedMac), 'mac-claimed');
    assert.equal(reasonOf(reusedIp), 'public-ip-claimed');
    // Written earlier than the honest lease, the same claim wins instead.
    const earlier = cand('10.234.50.0/24', '192.168.0.150', honest.vtepMAC, { order: 5 });
    const r = gatePeers([honest, earlier], facts);
    assert.deepEqual(r.accepted.map((p) => p.key), [earlier.key]);
    assert.equal(r.refused[0]?.key, honest.key);
    assert.equal(r.refused[0]?.reason, 'mac-claimed');
    assert.match(r.refused[0]?.message ?? '', /already claimed by .*10\.234\.50\.0\/24/);
    // Two keys naming one subnet (a dual-stack key beside the plain one): one host kept, the other refused.
    const dualA = cand('10.234.60.0/24', '192.168.0.160', '02:00:00:00:00:60', { order: 30 });
    const dualB = cand('10.234.60.0/24', '192.168.0.161', '02:00:00:00:00:61', { order: 31 });
    const d = gatePeers([dualB, dualA], facts);
    assert.deepEqual(d.accepted.map((p) => p.key), [dualA.key]);
    assert.equal(d.refused[0]?.reason, 'subnet-claimed');
  });

  void test('the same host from two sources is one peer; source precedence beats order', () => {
    const fromConfig: Candidate = { source: 'config', key: 'overlay.peers[0]', subnet: '10.234.1.0/24', publicIP: honest.publicIP, vtepMAC: honest.vtepMAC.toUpperCase(), order: 0 };
    const same = gatePeers([honest, fromConfig], facts, ['config', 'etcd']);
    assert.deepEqual(same.refused, []);
    assert.deepEqual(same.accepted.map((p) => p.source), ['config']);
    const other: Candidate = { ...fromConfig, publicIP: '192.168.0.99', vtepMAC: '02:00:00:00:00:99', order: 99 };
    const clash = gatePeers([{ ...honest, order: 1 }, other], facts, ['config', 'etcd']);
    assert.deepEqual(clash.accepted.map((p) => p.source), ['config']);
    assert.equal(clash.refused[0]?.source, 'etcd');
    assert.equal(clash.refused[0]?.reason, 'subnet-claimed');
  });

  void test('mixed prefix lengths (a static table without a network): containment both ways is a claim', () => {
    const bare: LocalFacts = { addresses: [], connected: [], foreignRoutes: [] };
    const wide = cand('10.9.0.0/16', '192.168.1.1', '02:00:00:00:02:01', { order: 1 });
    const narrow = cand('10.9.4.0/24', '192.168.1.2', '02:00:00:00:02:02', { order: 2 });
    assert.equal(gatePeers([narrow, wide], bare).refused[0]?.key, narrow.key);
    const narrowFirst = { ...narrow, order: 0 };
    assert.equal(gatePeers([wide, narrowFirst], bare).refused[0]?.key, wide.key);
  });

  void test('deterministic: any input order gives the same result; accepted peers never share a kernel object', () => {
    let seed = 42;
    const rnd = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed >>> 8) % k;
    };
    const pool: Candidate[] = [];
    for (let i = 0; i < 300; i += 1) {
      // Few distinct values so that claims collide often.
      pool.push(cand(`10.234.${1 + rnd(40)}.0/${rnd(10) === 0 ? 23 : 24}`, `192.168.1.${1 + rnd(60)}`, `02:00:00:00:03:${(16 + rnd(60)).toString(16)}`, { order: rnd(1000) }));
    }
    const first = gatePeers(pool, facts);
    for (let round = 0; round < 5; round += 1) {
      const shuffled = [...pool];
      for (let i = shuffled.length - 1; i > 0; i -= 1) {
        const j = rnd(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j] as Candidate, shuffled[i] as Candidate];
      }
      assert.deepEqual(gatePeers(shuffled, facts), first);
    }
    assert.equal(first.accepted.length + first.refused.length, pool.length - duplicatesOf(first, pool));
    const subnets = new Set(first.accepted.map((p) => p.subnet));
    assert.equal(subnets.size, first.accepted.length);
    assert.equal(new Set(first.accepted.map((p) => p.vtepMAC)).size, first.accepted.length);
    assert.equal(new Set(first.accepted.map((p) => p.publicIP)).size, first.accepted.length);
    assert.ok(first.accepted.length > 5 && first.refused.length > 5, `the pool exercises both outcomes: ${first.accepted.length} accepted, ${first.refused.length} refused`);
  });
});

/** Candidates dropped as the same host as an accepted one (neither accepted nor refused). */
function duplicatesOf(r: ReturnType<typeof gatePeers>, pool: readonly Candidate[]): number {
  const seen = new Set([...r.accepted.map((p) => p.key), ...r.refused.map((x) => x.key)]);
  return pool.filter((c) => !seen.has(c.key)).length;
}
