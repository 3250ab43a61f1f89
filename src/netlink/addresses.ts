/** IPv4 interface addresses: dump, add, delete. */
import { AttrStream, FlagsNew, rt } from 'netlink';
import { AF_INET, bufferToIp, ipv4ToBuffer } from './codec.js';
import type { RtSocket } from './socket.js';

export interface Address {
  index: number;
  address: string;
  prefix: number;
}

export async function listAddresses(s: RtSocket): Promise<Address[]> {
  const out = new AttrStream();
  rt.formatAddressMessage({ kind: 'address', data: { family: AF_INET }, attrs: {} }, out);
  const msgs = await s.dump('dump addresses', rt.MessageType.GETADDR, out.bufs);
  const result: Address[] = [];
  for (const m of msgs) {
    if (m.kind !== 'address' || m.data.family !== AF_INET) continue;
    const address = bufferToIp(m.attrs.local ?? m.attrs.address);
    if (address !== undefined) result.push({ index: m.data.index ?? 0, address, prefix: m.data.prefixlen ?? 0 });
  }
  return result;
}

export async function addAddress(s: RtSocket, ifname: string, a: Address): Promise<void> {
  const ip = ipv4ToBuffer(a.address);
  await s.request(`address ${a.address}/${a.prefix} on ${ifname}`, (sock, o) =>
    sock.newAddress({ family: AF_INET, prefixlen: a.prefix, index: a.index }, { local: ip, address: ip }, { ...o, flags: FlagsNew.CREATE | FlagsNew.REPLACE }),
  );
}

export async function deleteAddress(s: RtSocket, ifname: string, a: Address): Promise<void> {
  const ip = ipv4ToBuffer(a.address);
  await s.request(`delete address ${a.address}/${a.prefix} on ${ifname}`, (sock, o) =>
    sock.delAddress({ family: AF_INET, prefixlen: a.prefix, index: a.index }, { local: ip, address: ip }, o),
  );
}
