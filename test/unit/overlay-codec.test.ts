import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bufferToIp, bufferToMac, ipv4ToBuffer, macToBuffer } from '../../src/netlink/codec.js';
import { decodeNeighbour, decodeRoute } from '../../src/netlink/decode.js';
import { encodeMessage, encodeNeighbour, encodeRoute, NDA_DST, NDA_LLADDR, NTF_SELF, NUD_PERMANENT, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_TABLE, u32le } from '../../src/netlink/encode.js';

void describe('netlink codec', () => {
  void test('addresses and MACs round-trip; bad ones are refused', () => {
    for (const ip of ['0.0.0.0', '10.234.0.0', '192.168.0.72', '255.255.255.255']) assert.equal(bufferToIp(ipv4ToBuffer(ip)), ip);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1']) assert.throws(() => ipv4ToBuffer(bad), /not an IPv4 address/, bad);
    for (const mac of ['5a:09:44:c7:a3:fb', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff']) assert.equal(bufferToMac(macToBuffer(mac)), mac);
    assert.equal(bufferToMac(macToBuffer('5A:09:44:C7:A3:FB')), '5a:09:44:c7:a3:fb');
    for (const bad of ['5a:09:44:c7:a3', '5a-09-44-c7-a3-fb', '5a:09:44:c7:a3:fg', '5a:09:44:c7:a3:fb:00']) assert.throws(() => macToBuffer(bad), /not a MAC address/, bad);
  });

  void test('encoded neighbours and routes decode to what was written, messages are 4-byte aligned', () => {
    const n = encodeNeighbour({ family: 7, ifindex: 42, state: NUD_PERMANENT, flags: NTF_SELF }, [
      { type: NDA_DST, data: ipv4ToBuffer('192.168.0.72') },
      { type: NDA_LLADDR, data: macToBuffer('5a:09:44:c7:a3:fb') },
    ]);
    assert.deepEqual(decodeNeighbour(n), { family: 7, ifindex: 42, permanent: true, self: true, dst: '192.168.0.72', mac: '5a:09:44:c7:a3:fb' });
    const r = encodeRoute({ family: 2, dstLen: 24, table: 254, protocol: 3, scope: 0, type: 1, flags: 4 }, [
      { type: RTA_TABLE, data: u32le(254) },
      { type: RTA_DST, data: ipv4ToBuffer('10.234.0.0') },
      { type: RTA_GATEWAY, data: ipv4ToBuffer('10.234.0.0') },
      { type: RTA_OIF, data: u32le(42) },
    ]);
    assert.deepEqual(decodeRoute(r), { family: 2, dstLen: 24, table: 254, protocol: 3, flags: 4, dst: '10.234.0.0', gateway: '10.234.0.0', oif: 42 });
    const msg = encodeMessage(28, 0x501, 7, 99, [n]);
    assert.equal(msg.length % 4, 0);
    assert.equal(msg.readUInt32LE(0), 16 + n.length);
    assert.equal(msg.readUInt16LE(4), 28);
    assert.equal(msg.readUInt32LE(8), 7);
  });
});
