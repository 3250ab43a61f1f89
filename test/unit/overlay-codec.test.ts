import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bufferToIp, bufferToMac, ipv4ToBuffer, macToBuffer } from '../../src/netlink/codec.js';
import { decodeNeighbour, decodeRoute } from '../../src/netlink/decode.js';
import { NLMSG_HDRLEN, align4, writeHeader } from '../../src/netlink/encode.js';
import { fdbDelete, fdbSet, neighbourDelete, neighbourSet } from '../../src/netlink/neighbours.js';
import { routeDelete, routeReplace } from '../../src/netlink/routes.js';

void describe('netlink codec', () => {
  void test('addresses and MACs round-trip; bad ones are refused', () => {
    for (const ip of ['0.0.0.0', '10.234.0.0', '192.168.0.72', '255.255.255.255']) assert.equal(bufferToIp(ipv4ToBuffer(ip)), ip);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1']) assert.throws(() => ipv4ToBuffer(bad), /not an IPv4 address/, bad);
    for (const mac of ['5a:09:44:c7:a3:fb', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff']) assert.equal(bufferToMac(macToBuffer(mac)), mac);
    assert.equal(bufferToMac(macToBuffer('5A:09:44:C7:A3:FB')), '5a:09:44:c7:a3:fb');
    for (const bad of ['5a:09:44:c7:a3', '5a-09-44-c7-a3-fb', '5a:09:44:c7:a3:fg', '5a:09:44:c7:a3:fb:00']) assert.throws(() => macToBuffer(bad), /not a MAC address/, bad);
  });

  void test('requests encode to the exact bytes of the old per-message encoder, decode to what was written, 4-byte aligned', () => {
    const dev = { index: 42, name: 'flannel.1' };
    const requests = [
      neighbourSet(dev, { ip: '10.234.7.0', mac: '5a:09:44:c7:a3:fb' }),
      neighbourDelete(dev, { ip: '10.234.7.0' }),
      fdbSet(dev, { mac: '5a:09:44:c7:a3:fb', dst: '192.168.0.72' }),
      fdbDelete(dev, { mac: '5a:09:44:c7:a3:fb', dst: '192.168.0.72' }),
      fdbDelete(dev, { mac: '5a:09:44:c7:a3:fb' }),
      routeReplace(dev, { dst: '10.234.7.0/24', gateway: '10.234.7.0' }),
      routeDelete(dev, { dst: '10.234.7.0/24' }),
    ];
    // Framed as RtSocket frames a datagram: REQUEST on each, ACK on the last.
    const framed = requests.map((r, i) => {
      const len = NLMSG_HDRLEN + r.size;
      const buf = Buffer.alloc(align4(len));
      writeHeader(buf, 0, len, r.type, r.flags | 1 | (i === requests.length - 1 ? 4 : 0), 100 + i, 4242);
      r.write(buf, NLMSG_HDRLEN);
      return buf;
    });
    // Captured from the encoder these replaced (one buffer per attribute and message, then a copy).
    assert.deepEqual(framed.map((b) => b.toString('hex')), [
      '300000001c0001056400000092100000020000002a00000080000000080001000aea07000a0002005a0944c7a3fb0000',
      '240000001d0001006500000092100000020000002a00000000000000080001000aea0700',
      '300000001c0001056600000092100000070000002a0000008000020008000100c0a800480a0002005a0944c7a3fb0000',
      '300000001d0001006700000092100000070000002a0000000000020008000100c0a800480a0002005a0944c7a3fb0000',
      '280000001d0001006800000092100000070000002a000000000002000a0002005a0944c7a3fb0000',
      '3c00000018000105690000009210000002180000fe0300010400000008000f00fe000000080001000aea0700080005000aea0700080004002a000000',
      '34000000190005006a0000009210000002180000fe00ff000000000008000f00fe000000080001000aea0700080004002a000000',
    ]);
    for (const b of framed) assert.equal(b.length % 4, 0);
    const body = (i: number): Buffer => (framed[i] as Buffer).subarray(NLMSG_HDRLEN);
    assert.deepEqual(decodeNeighbour(body(2)), { family: 7, ifindex: 42, permanent: true, self: true, dst: '192.168.0.72', mac: '5a:09:44:c7:a3:fb' });
    assert.deepEqual(decodeRoute(body(5)), { family: 2, dstLen: 24, table: 254, protocol: 3, flags: 4, dst: '10.234.7.0', gateway: '10.234.7.0', oif: 42 });
  });

  void test('a bad address is refused when the request is made, not while its datagram is built', () => {
    const dev = { index: 42, name: 'flannel.1' };
    assert.throws(() => neighbourSet(dev, { ip: '10.234.7', mac: '5a:09:44:c7:a3:fb' }), /not an IPv4 address/);
    assert.throws(() => fdbSet(dev, { mac: '5a:09:44:c7:a3', dst: '192.168.0.72' }), /not a MAC address/);
    assert.throws(() => routeReplace(dev, { dst: '10.234.7.0/33', gateway: '10.234.7.0' }), /not an IPv4 prefix/);
    assert.throws(() => routeDelete(dev, { dst: '10.234.7.0/x' }), /not an IPv4 prefix/);
  });
});
