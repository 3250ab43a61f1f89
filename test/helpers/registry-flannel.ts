/**
 * Plays a flannel node's part in etcd: writes its network config and leases exactly as flanneld
 * does (literal JSON from reference §9, not the agent's encoder), each under its own etcd lease.
 */
import type { Etcd3 } from 'etcd3';

export const PREFIX = '/coreos.com/network';

export function flannelLeaseJson(publicIP: string, vtepMAC: string, vni = 1): string {
  return `{"PublicIP":"${publicIP}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":${vni},"VtepMAC":"${vtepMAC}"}}`;
}

export function leaseKey(subnet: string, prefix = PREFIX): string {
  return `${prefix}/subnets/${subnet.replace('/', '-')}`;
}

export async function writeNetworkConfig(client: Etcd3, config: Record<string, unknown>, prefix = PREFIX): Promise<void> {
  await client.put(`${prefix}/config`).value(JSON.stringify(config));
}

/** One lease per transaction, attached to a fresh etcd lease of `ttl` seconds (flanneld: 24 h). */
export async function writeFlannelLease(client: Etcd3, subnet: string, publicIP: string, vtepMAC: string, options: { ttl?: number; prefix?: string; vni?: number } = {}): Promise<string> {
  const grant = await client.leaseClient.leaseGrant({ TTL: options.ttl ?? 86_400 });
  await client.put(leaseKey(subnet, options.prefix)).value(flannelLeaseJson(publicIP, vtepMAC, options.vni)).lease(grant.ID);
  return grant.ID;
}

export async function deleteLease(client: Etcd3, subnet: string, prefix = PREFIX): Promise<void> {
  await client.delete().key(leaseKey(subnet, prefix));
}
