import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Link } from '../../src/netlink/links.js';
import { resolveUnderlay } from '../../src/overlay/underlay.js';
import { generateMac } from '../../src/overlay/vtep-mac.js';
import { judgeDevice, type DeviceSpec } from '../../src/overlay/vxlan-device.js';

const spec: DeviceSpec = { name: 'flannel.1', vni: 1, port: 8472, local: '192.168.0.81', underlayIndex: 2, mtu: 1450, mac: '02:00:00:00:00:01', vtep: '10.234.3.0' };
const good: Link = { index: 5, name: 'flannel.1', mtu: 1450, mac: spec.mac, up: true, kind: 'vxlan', vxlan: { vni: 1, link: 2, local: '192.168.0.81', port: 8472, learning: false } };

void describe('vxlan device judgement', () => {
  void test('missing → create; matching → ok', () => {
    assert.deepEqual(judgeDevice(spec, undefined), { action: 'create' });
    assert.deepEqual(judgeDevice(spec, good), { action: 'ok' });
  });

  void test('MTU, MAC and down are fixed in place', () => {
    assert.deepEqual(judgeDevice(spec, { ...good, mtu: 1500, mac: '02:00:00:00:00:02', up: false }), { action: 'fix', change: { mtu: 1450, mac: spec.mac, up: true } });
  });

  void test('wrong VNI, port, local, link, learning or kind → re-create', () => {
    const v = good.vxlan!;
    for (const vxlan of [{ ...v, vni: 2 }, { ...v, port: 4789 }, { ...v, local: '192.168.0.9' }, { ...v, link: 3 }, { ...v, learning: true }]) {
      assert.equal(judgeDevice(spec, { ...good, vxlan }).action, 'recreate');
    }
    assert.equal(judgeDevice(spec, { index: 5, name: 'flannel.1', mtu: 1500, up: true, kind: 'dummy' }).action, 'recreate');
  });

  void test('generated MACs are unicast and locally administered', () => {
    for (let i = 0; i < 50; i++) {
      const first = parseInt(generateMac().slice(0, 2), 16);
      assert.equal(first & 0x01, 0);
      assert.equal(first & 0x02, 2);
    }
  });
});

void describe('underlay resolution', () => {
  const links: Link[] = [
    { index: 1, name: 'lo', mtu: 65536, up: true },
    { index: 2, name: 'ens33', mtu: 1500, up: true },
    { index: 3, name: 'ens34', mtu: 9000, up: true },
  ];
  const addresses = [
    { index: 2, address: '192.168.0.81', prefix: 24 },
    { index: 3, address: '10.1.0.5', prefix: 16 },
  ];
  const routes = [{ dst: '0.0.0.0/0', oif: 3, onlink: false, protocol: 4, table: 254, kernel: false }];

  void test('default: the default route interface and its first address', () => {
    assert.deepEqual(resolveUnderlay({ interface: '', address: '' }, links, addresses, routes), { index: 3, name: 'ens34', mtu: 9000, address: '10.1.0.5' });
  });

  void test('by interface or by address', () => {
    assert.equal(resolveUnderlay({ interface: 'ens33', address: '' }, links, addresses, routes).address, '192.168.0.81');
    assert.equal(resolveUnderlay({ interface: '', address: '192.168.0.81' }, links, addresses, routes).name, 'ens33');
  });

  void test('an unknown interface is a clear error naming the key', () => {
    assert.throws(() => resolveUnderlay({ interface: 'eth9', address: '' }, links, addresses, routes), /overlay\.underlay\.interface: no interface named "eth9"/);
    assert.throws(() => resolveUnderlay({ interface: '', address: '10.9.9.9' }, links, addresses, routes), /overlay\.underlay\.address: no interface/);
    assert.throws(() => resolveUnderlay({ interface: '', address: '' }, links, addresses, []), /no default route/);
  });
});
