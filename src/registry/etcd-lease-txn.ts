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
    leases.push({ subnet, publicIP: holder, modRevision: kv.mod_revision, leaseId: kv.lease });
  }
  return leases;
}

/** Whether etcd lease `id` still lives with a granted TTL of `ttl` seconds (so it may carry our key again). */
export async function liveLease(client: Etcd3, id: string, ttl: number): Promise<boolean> {
  if (id === '' || id === '0') return false;
  try {
    const res = await client.leaseClient.leaseTimeToLive({ ID: id });
    return Number(res.TTL) > 0 && Number(res.grantedTTL) === ttl;
  } catch {
    return false;
  }
}

/**
 * Revokes etcd lease `id` if it still lives but carries no key: the lease of a key we took over
 * from an earlier run whose state was lost. A lease that still carries a key is left alone.
 */
export async function revokeIfKeyless(client: Etcd3, id: string): Promise<boolean> {
  if (id === '' || id === '0') return false;
  try {
    const res = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
    if (Number(res.TTL) <= 0 || res.keys.length > 0) return false;
    await client.leaseClient.leaseRevoke({ ID: id });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `value` under an etcd lease: `reuse` (a live lease of ours) or a fresh grant of `ttl`
 * seconds; create-if-absent (Version == 0) or, for our own lease, compare-and-swap on its mod
 * revision. One key per transaction. Resolves with the etcd lease ID, or undefined when another
 * writer won (a fresh, unused etcd lease is revoked).
 */
export async function writeLease(client: Etcd3, prefix: string, choice: Exclude<Choice, { kind: 'blocked' }>, value: string, ttl: number, reuse?: string): Promise<string | undefined> {
  const key = subnetKey(prefix, choice.subnet);
  const id = reuse ?? (await client.leaseClient.leaseGrant({ TTL: ttl })).ID;
  const guard = choice.kind === 'create' ? client.if(key, 'Version', '==', 0) : client.if(key, 'Mod', '==', choice.modRevision);
  const res = await guard.then(client.put(key).value(value).lease(id)).commit();
  if (res.succeeded) return id;
  if (reuse === undefined) await client.leaseClient.leaseRevoke({ ID: id }).catch(() => undefined);
  return undefined;
}
