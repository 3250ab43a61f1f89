/**
 * The two etcd steps of one lease acquisition: read every lease (who holds which subnet), and
 * write ours in one transaction that only succeeds if nobody changed the key since we looked.
 */
import type { Etcd3 } from 'etcd3';
import { decodeLease, subnetFromKey, subnetKey, subnetsPrefix } from './etcd-lease-format.js';
import type { Choice, ExistingLease } from './etcd-subnet-choice.js';

export async function listLeases(client: Etcd3, prefix: string): Promise<ExistingLease[]> {
  const listing = await client.getAll().prefix(subnetsPrefix(prefix)).exec();
  const leases: ExistingLease[] = [];
  for (const kv of listing.kvs) {
    const subnet = subnetFromKey(prefix, kv.key.toString());
    if (subnet === undefined) continue;
    let holder = '';
    try {
      holder = decodeLease(kv.value.toString()).publicIP;
    } catch {
      // An unreadable lease still occupies its subnet: never reuse it.
    }
    leases.push({ subnet, publicIP: holder, modRevision: kv.mod_revision });
  }
  return leases;
}

/**
 * Grants an etcd lease of `ttl` seconds and writes `value` under it: create-if-absent
 * (Version == 0) or, for our own lease, compare-and-swap on its mod revision. One key per
 * transaction. Resolves with the etcd lease ID, or undefined when another writer won (the unused
 * etcd lease is revoked).
 */
export async function writeLease(client: Etcd3, prefix: string, choice: Exclude<Choice, { kind: 'blocked' }>, value: string, ttl: number): Promise<string | undefined> {
  const key = subnetKey(prefix, choice.subnet);
  const grant = await client.leaseClient.leaseGrant({ TTL: ttl });
  const guard = choice.kind === 'create' ? client.if(key, 'Version', '==', 0) : client.if(key, 'Mod', '==', choice.modRevision);
  const res = await guard.then(client.put(key).value(value).lease(grant.ID)).commit();
  if (res.succeeded) return grant.ID;
  await client.leaseClient.leaseRevoke({ ID: grant.ID }).catch(() => undefined);
  return undefined;
}
