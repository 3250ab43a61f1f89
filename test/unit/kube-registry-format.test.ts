import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNetworkConfig } from '../../src/registry/etcd-network-config.js';
import { gatePeers, type Candidate } from '../../src/overlay/peer-gate.js';
import { FLANNEL_PREFIX, OWNER_ANNOTATION, VM_LABEL, encodeBackendData, flannelNames, ownAnnotations } from '../../src/registry/kube/annotations.js';
import { networkFromConfigMap, networkFromOverlay, podCIDRBounds } from '../../src/registry/kube/network-config.js';
import { nodeToPeer, type NodeLike } from '../../src/registry/kube/node-peer.js';
import { NodePeers } from '../../src/registry/kube/node-peers.js';
import { OUR_TAINT, nodeManifest, planOwnNode, type ExistingNode } from '../../src/registry/kube/own-node.js';
import { choosePodCIDR, clusterSubnetLen, freePodCIDRs } from '../../src/registry/kube/pod-cidr.js';

const names = flannelNames();
const P = `${FLANNEL_PREFIX}/`;

/** A Node as flanneld v0.20 leaves it (reference: kubernetes.md §1): literal strings, not our encoder. */
function flannelNode(name: string, podCIDR: string | undefined, publicIP: string, mac: string, extra: Record<string, string> = {}, rv = '100'): NodeLike {
  return {
    metadata: {
      name,
      resourceVersion: rv,
      creationTimestamp: '2026-11-30T10:00:00Z',
      annotations: {
        [`${P}backend-type`]: 'vxlan',
        [`${P}backend-data`]: `{"VNI":1,"VtepMAC":"${mac}"}`,
        [`${P}public-ip`]: publicIP,
        [`${P}kube-subnet-manager`]: 'true',
        'node.alpha.kubernetes.io/ttl': '0',
        ...extra,
      },
    },
    spec: podCIDR === undefined ? {} : { podCIDR, podCIDRs: [podCIDR] },
  };
}

describe('flannel annotations, byte for byte', () => {
  test('backend-data is what flanneld marshals: {"VNI":1,"VtepMAC":"…"}, lower-case MAC', () => {
    assert.equal(encodeBackendData(1, 'FE:3F:4A:8C:74:A4'), '{"VNI":1,"VtepMAC":"fe:3f:4a:8c:74:a4"}');
    assert.equal(encodeBackendData(4096, '02:00:00:00:00:01'), '{"VNI":4096,"VtepMAC":"02:00:00:00:00:01"}');
  });

  test('the four annotations flanneld writes, under the default or a custom prefix', () => {
    const { annotations } = ownAnnotations(names, { publicIP: '192.168.0.81', vni: 1, vtepMAC: 'fe:3f:4a:8c:74:a4' });
    assert.deepEqual(annotations, {
      'flannel.alpha.coreos.com/backend-type': 'vxlan',
      'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"fe:3f:4a:8c:74:a4"}',
      'flannel.alpha.coreos.com/public-ip': '192.168.0.81',
      'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
    });
    assert.equal(flannelNames('example.com/').backendData, 'example.com/backend-data');
  });

  test('public-ip-overwrite is advertised as public-ip, as flanneld does; a non-address overwrite is ignored and reported', () => {
    const facts = { publicIP: '10.0.0.5', vni: 1, vtepMAC: '02:00:00:00:00:05' };
    const nat = ownAnnotations(names, facts, { [names.publicIPOverwrite]: '203.0.113.7' });
    assert.equal(nat.annotations[names.publicIP], '203.0.113.7');
    assert.equal(nat.overwrite, '203.0.113.7');
    const bad = ownAnnotations(names, facts, { [names.publicIPOverwrite]: '203.0.113.7; rm -rf /' });
    assert.equal(bad.annotations[names.publicIP], '10.0.0.5');
    assert.equal(bad.badOverwrite, '203.0.113.7; rm -rf /');
  });
});

describe('foreign Nodes as peers', () => {
  test('a Node annotated as flanneld annotates it is a peer keyed by its name', () => {
    const peer = nodeToPeer(flannelNode('node-1', '10.244.1.0/24', '192.168.0.72', 'fe:3f:4a:8c:74:a4'), names);
    assert.deepEqual(peer, { source: 'kubernetes', key: 'node-1', order: Date.parse('2026-11-30T10:00:00Z') / 1000, subnet: '10.244.1.0/24', publicIP: '192.168.0.72', vtepMAC: 'fe:3f:4a:8c:74:a4' });
  });

  test('Nodes flanneld ignores are ignored: no annotations, no kube-subnet-manager "true", another backend type', () => {
    assert.equal(nodeToPeer({ metadata: { name: 'bare', resourceVersion: '1' }, spec: { podCIDR: '10.244.9.0/24' } }, names), undefined);
    assert.equal(nodeToPeer(flannelNode('n', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:01', { [`${P}kube-subnet-manager`]: 'false' }), names), undefined);
    assert.equal(nodeToPeer(flannelNode('n', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:01', { [`${P}backend-type`]: 'host-gw' }), names), undefined);
    // flanneld compares the backend type exactly.
    assert.equal(nodeToPeer(flannelNode('n', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:01', { [`${P}backend-type`]: 'VXLAN' }), names), undefined);
  });

  test('a marked Node that cannot be read is an invalid peer naming the Node and the problem', () => {
    const cases: [NodeLike, RegExp][] = [
      [flannelNode('a', undefined, '192.168.0.1', '02:00:00:00:00:01'), /Node a: the Node has no spec.podCIDR/],
      [flannelNode('b', 'fd00::/64', '192.168.0.1', '02:00:00:00:00:01'), /not an IPv4 CIDR/],
      [flannelNode('c', '10.244.1.0/24', '192.168.0.1 ; reboot', '02:00:00:00:00:01'), /public-ip .* is not an IPv4 address/],
      [flannelNode('d', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:01', { [`${P}backend-data`]: 'not json' }), /backend-data is not JSON/],
      [flannelNode('e', '10.244.1.0/24', '192.168.0.1', 'zz:00:00:00:00:01'), /no valid VtepMAC/],
      [flannelNode('f', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:01', { [`${P}backend-data`]: `{"VtepMAC":"02:00:00:00:00:01","x":"${'a'.repeat(2000)}"}` }), /longer than 1024/],
      [flannelNode('g', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:01', { [`${P}backend-data`]: '["02:00:00:00:00:01"]' }), /not a JSON object/],
    ];
    for (const [node, why] of cases) {
      const peer = nodeToPeer(node, names);
      assert.match(peer?.invalid ?? '', why, node.metadata.name);
    }
  });

  test('backend-data fields are matched case-insensitively, as Go reads them; VNI is not required', () => {
    const peer = nodeToPeer(flannelNode('n', '10.244.1.0/24', '192.168.0.1', 'x', { [`${P}backend-data`]: '{"vtepmac":"AA:BB:CC:DD:EE:01"}' }), names);
    assert.equal(peer?.vtepMAC, 'aa:bb:cc:dd:ee:01');
    assert.equal(peer?.invalid, undefined);
  });

  test('what reaches the gate is refused there for the right reason (hostile Nodes)', () => {
    const hostile = [
      flannelNode('lan', '192.168.0.0/24', '192.168.0.9', '02:00:00:00:00:09'),
      flannelNode('wide', '0.0.0.0/1', '192.168.0.10', '02:00:00:00:00:0a'),
      flannelNode('outside', '10.99.0.0/24', '192.168.0.11', '02:00:00:00:00:0b'),
      flannelNode('hostbits', '10.244.7.9/24', '192.168.0.12', '02:00:00:00:00:0c'),
      flannelNode('bcast', '10.244.8.0/24', '192.168.0.13', 'ff:ff:ff:ff:ff:ff'),
      flannelNode('loop', '10.244.9.0/24', '127.0.0.1', '02:00:00:00:00:0d'),
      flannelNode('good', '10.244.10.0/24', '192.168.0.14', '02:00:00:00:00:0e'),
    ];
    const candidates = hostile.map((n) => nodeToPeer(n, names)).map((p): Candidate => ({ ...(p as Candidate), key: p?.key ?? '', order: p?.order ?? 0 }));
    const net = networkFromConfigMap({ metadata: { name: 'kube-flannel-cfg', namespace: 'kube-flannel' }, data: { 'net-conf.json': '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}' } });
    const result = gatePeers(candidates, { network: podCIDRBounds(net), ownSubnet: '10.244.200.0/24', addresses: ['192.168.0.5'], connected: ['192.168.0.0/24'], foreignRoutes: ['192.168.0.0/24'] });
    assert.deepEqual(result.accepted.map((p) => p.key), ['good']);
    assert.deepEqual(Object.fromEntries(result.refused.map((r) => [r.key, r.reason])), {
      lan: 'outside-network',
      wide: 'outside-network',
      outside: 'outside-network',
      hostbits: 'not-network-address',
      bcast: 'mac-class',
      loop: 'public-ip-class',
    });
  });

  test('the peer set: our own Node never a peer; unchanged facts keep the same object and revision', () => {
    const peers = new NodePeers(names, 'vm-1');
    const nodes = new Map<string, NodeLike>([
      ['node-2', flannelNode('node-2', '10.244.2.0/24', '192.168.0.2', '02:00:00:00:00:02', {}, '10')],
      ['node-1', flannelNode('node-1', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:01', {}, '11')],
      ['vm-1', flannelNode('vm-1', '10.244.200.0/24', '192.168.0.5', '02:00:00:00:00:05', {}, '12')],
      ['kubelet-only', { metadata: { name: 'kubelet-only', resourceVersion: '13' }, spec: { podCIDR: '10.244.3.0/24' } }],
    ]);
    const first = peers.compute(nodes);
    assert.deepEqual(first.map((p) => [p.key, p.revision]), [['node-2', '10'], ['node-1', '11']]);
    // A heartbeat: a new resourceVersion, the same peer facts: the same object, in its place.
    nodes.set('node-1', flannelNode('node-1', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:01', { 'x/heartbeat': 'now' }, '20'));
    const second = peers.update([['node-1', nodes.get('node-1')]]);
    assert.equal(second[1], first[1]);
    assert.deepEqual(peers.compute(nodes), second, 'a full read agrees with the incremental one');
    // A new MAC: a new object with the version it appeared at.
    nodes.set('node-1', flannelNode('node-1', '10.244.1.0/24', '192.168.0.1', '02:00:00:00:00:11', {}, '21'));
    const third = peers.update([['node-1', nodes.get('node-1')]]);
    assert.notEqual(third[1], first[1]);
    assert.deepEqual([third[1]?.vtepMAC, third[1]?.revision], ['02:00:00:00:00:11', '21']);
    // Deleted, and a Node that stops being marked, leave; our own Node never joins.
    nodes.delete('node-2');
    nodes.set('kubelet-only', flannelNode('kubelet-only', '10.244.3.0/24', '192.168.0.3', '02:00:00:00:00:03', {}, '22'));
    const fourth = peers.update([['node-2', undefined], ['kubelet-only', nodes.get('kubelet-only')], ['vm-1', nodes.get('vm-1')]]);
    assert.deepEqual(fourth.map((p) => p.key), ['node-1', 'kubelet-only']);
    nodes.set('kubelet-only', { metadata: { name: 'kubelet-only', resourceVersion: '23' }, spec: { podCIDR: '10.244.3.0/24' } });
    assert.deepEqual(peers.update([['kubelet-only', nodes.get('kubelet-only')]]).map((p) => p.key), ['node-1']);
    assert.deepEqual(peers.compute(nodes).map((p) => p.key), ['node-1']);
  });
});

describe('network config from the kube-flannel-cfg ConfigMap or config.yaml', () => {
  test('net-conf.json parsed with flannel defaults; a missing key or bad JSON names the ConfigMap', () => {
    const net = networkFromConfigMap({ metadata: { name: 'kube-flannel-cfg', namespace: 'kube-flannel' }, data: { 'net-conf.json': '{\n  "Network": "10.244.0.0/16",\n  "Backend": {\n    "Type": "vxlan"\n  }\n}\n', 'cni-conf.json': '{}' } });
    assert.deepEqual([net.network, net.subnetLen, net.vni, net.port], ['10.244.0.0/16', 24, 1, 0]);
    assert.throws(() => networkFromConfigMap({ metadata: { name: 'kube-flannel-cfg', namespace: 'kube-system' }, data: {} }), /ConfigMap kube-system\/kube-flannel-cfg key net-conf.json is missing/);
    assert.throws(() => networkFromConfigMap({ metadata: { name: 'kube-flannel-cfg', namespace: 'kube-system' }, data: { 'net-conf.json': '{' } }), /ConfigMap kube-system\/kube-flannel-cfg key net-conf.json is not JSON/);
    assert.throws(() => networkFromConfigMap({ metadata: { name: 'c', namespace: 'n' }, data: { 'net-conf.json': '{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}' } }), /vxlan networks only/);
  });

  test('podCIDR bounds impose only Network (the allocator chooses the length)', () => {
    const net = networkFromConfigMap({ metadata: { name: 'c', namespace: 'n' }, data: { 'net-conf.json': '{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}' } });
    assert.deepEqual(podCIDRBounds(net), { network: '10.244.0.0/16' });
  });

  test('config.yaml: overlay.network with our VNI and port', () => {
    const net = networkFromOverlay({ network: '10.244.0.0/16', vni: 3, port: 4789 });
    assert.deepEqual([net.network, net.subnetLen, net.vni, net.port], ['10.244.0.0/16', 24, 3, 4789]);
    assert.equal(networkFromOverlay({ network: '10.244.0.0/16', vni: 1, port: 8472 }).port, 0);
  });
});

describe('podCIDR choice', () => {
  const net = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}', 'c');
  const base = { net, configured: '', current: '', others: [] as { name: string; podCIDR: string }[], mayChoose: true, random: () => 0 };

  test('a Node that has a podCIDR keeps it; overlay.subnet cannot change it; one outside Network is refused', () => {
    assert.deepEqual(choosePodCIDR({ ...base, current: '10.244.5.0/24' }), { kind: 'keep', subnet: '10.244.5.0/24' });
    assert.deepEqual(choosePodCIDR({ ...base, current: '10.244.5.0/24', configured: '10.244.5.0/24' }), { kind: 'keep', subnet: '10.244.5.0/24' });
    const moved = choosePodCIDR({ ...base, current: '10.244.5.0/24', configured: '10.244.6.0/24' });
    assert.match(moved.kind === 'blocked' ? moved.reason : '', /already has spec.podCIDR 10.244.5.0\/24, which cannot change/);
    const outside = choosePodCIDR({ ...base, current: '10.9.0.0/24' });
    assert.match(outside.kind === 'blocked' ? outside.reason : '', /outside the flannel Network/);
  });

  test('overlay.subnet when free; never one another Node holds', () => {
    assert.deepEqual(choosePodCIDR({ ...base, configured: '10.244.7.0/24' }), { kind: 'set', subnet: '10.244.7.0/24', why: 'overlay.subnet' });
    const held = choosePodCIDR({ ...base, configured: '10.244.7.0/24', others: [{ name: 'node-7', podCIDR: '10.244.6.0/23' }] });
    assert.match(held.kind === 'blocked' ? held.reason : '', /overlaps the podCIDR of Node node-7/);
    const hostBits = choosePodCIDR({ ...base, configured: '10.244.7.1/24' });
    assert.match(hostBits.kind === 'blocked' ? hostBits.reason : '', /did you mean 10.244.7.0\/24/);
  });

  test('unset: wait for the allocator first, then a free subnet from the top, at the cluster\'s length', () => {
    assert.deepEqual(choosePodCIDR({ ...base, mayChoose: false }), { kind: 'wait' });
    assert.deepEqual(choosePodCIDR(base), { kind: 'set', subnet: '10.244.255.0/24', why: 'free subnet' });
    const others = [{ name: 'a', podCIDR: '10.244.255.0/25' }, { name: 'b', podCIDR: '10.244.0.0/25' }, { name: 'c', podCIDR: 'garbage' }, { name: 'd', podCIDR: '10.9.0.0/24' }];
    assert.equal(clusterSubnetLen(net, others), 25);
    assert.deepEqual(freePodCIDRs(net, 25, others, 3), ['10.244.255.128/25', '10.244.254.128/25', '10.244.254.0/25']);
    const last = choosePodCIDR({ ...base, others, random: () => 0.9999 });
    assert.equal(last.kind === 'set' ? last.subnet : '', '10.244.205.128/25');
  });

  test('SubnetMin/SubnetMax bound the choice when net-conf.json sets them; a full network is blocked', () => {
    const ranged = parseNetworkConfig('{"Network":"10.244.0.0/16","SubnetMin":"10.244.10.0","SubnetMax":"10.244.20.0","Backend":{"Type":"vxlan"}}', 'c');
    assert.deepEqual(freePodCIDRs(ranged, 24, [], 2), ['10.244.20.0/24', '10.244.19.0/24']);
    const tiny = parseNetworkConfig('{"Network":"10.9.0.0/28","Backend":{"Type":"vxlan"}}', 'c');
    const all = freePodCIDRs(tiny, tiny.subnetLen, [], 10).map((podCIDR, i) => ({ name: `n${i}`, podCIDR }));
    assert.equal(choosePodCIDR({ ...base, net: tiny, others: all }).kind, 'blocked');
  });
});

describe("this VM's Node", () => {
  const desired = {
    name: 'vm-1',
    owner: 'owner-abc',
    annotations: ownAnnotations(names, { publicIP: '192.168.0.81', vni: 1, vtepMAC: 'fe:3f:4a:8c:74:a4' }).annotations,
    podCIDR: '10.244.3.0/24',
  };

  test('created with podCIDR, the flannel annotations, the owner, the mesh-VM label, a NoSchedule taint and no OS label', () => {
    const plan = planOwnNode(undefined, desired);
    assert.equal(plan.kind, 'create');
    assert.deepEqual(plan.kind === 'create' ? plan.body : undefined, nodeManifest(desired));
    const body = nodeManifest(desired) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: Record<string, unknown> };
    assert.deepEqual(body.metadata.labels, { [VM_LABEL]: 'true' });
    assert.ok(!Object.keys(body.metadata.labels).some((k) => k.startsWith('kubernetes.io/')));
    assert.equal(body.metadata.annotations[OWNER_ANNOTATION], 'owner-abc');
    assert.equal(body.metadata.annotations['flannel.alpha.coreos.com/backend-data'], '{"VNI":1,"VtepMAC":"fe:3f:4a:8c:74:a4"}');
    assert.deepEqual(body.spec, { taints: [OUR_TAINT], podCIDR: '10.244.3.0/24', podCIDRs: ['10.244.3.0/24'] });
    assert.equal(OUR_TAINT.effect, 'NoSchedule');
    const unset = nodeManifest({ ...desired, podCIDR: '' }) as { spec: Record<string, unknown> };
    assert.deepEqual(unset.spec, { taints: [OUR_TAINT] });
  });

  test('never takes over a Node it does not own', () => {
    const kubelet: ExistingNode = { metadata: { name: 'vm-1', resourceVersion: '5', labels: { 'kubernetes.io/os': 'linux' } }, spec: { podCIDR: '10.244.3.0/24' } };
    const plan = planOwnNode(kubelet, desired);
    assert.match(plan.kind === 'foreign' ? plan.reason : '', /not registered by mesh-node-agent .* never takes over/);
    const other = planOwnNode({ metadata: { name: 'vm-1', resourceVersion: '5', annotations: { [OWNER_ANNOTATION]: 'someone-else' } } }, desired);
    assert.match(other.kind === 'foreign' ? other.reason : '', /another mesh-node-agent host \(owner someone-else\)/);
  });

  test('an owned Node gets one patch with only what differs, fenced by its resourceVersion; taints are kept', () => {
    const existing: ExistingNode = {
      metadata: { name: 'vm-1', resourceVersion: '42', labels: { [VM_LABEL]: 'true' }, annotations: { ...desired.annotations, [OWNER_ANNOTATION]: 'owner-abc', [names.publicIP]: '192.168.0.80' } },
      spec: { podCIDR: '10.244.3.0/24', taints: [OUR_TAINT, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] },
    };
    const plan = planOwnNode(existing, desired);
    assert.deepEqual(plan, { kind: 'patch', what: [names.publicIP], patch: { metadata: { annotations: { [names.publicIP]: '192.168.0.81' }, resourceVersion: '42' } } });
    const current = { ...existing, metadata: { ...existing.metadata, annotations: { ...desired.annotations, [OWNER_ANNOTATION]: 'owner-abc' } } };
    assert.deepEqual(planOwnNode(current, desired), { kind: 'ok' });
    const untainted = planOwnNode({ ...current, spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] } }, desired);
    assert.equal(untainted.kind, 'patch');
    const spec = (untainted.kind === 'patch' ? untainted.patch.spec : undefined) as Record<string, unknown>;
    assert.deepEqual(spec, { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }, OUR_TAINT], podCIDR: '10.244.3.0/24', podCIDRs: ['10.244.3.0/24'] });
  });
});
