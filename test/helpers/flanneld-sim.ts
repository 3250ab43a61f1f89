/**
 * A stand-in for flanneld on a "Kubernetes node" namespace: follows the leases in flannel's etcd
 * registry and programs this node's flannel.1 for every other host exactly as flanneld's VXLAN
 * backend does (neighbour, FDB, onlink route), using ip/bridge like the seed's operator did.
 * Run inside the node namespace: node --import tsx flanneld-sim.ts ENDPOINT PREFIX OWN_SUBNET
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';

const exec = promisify(execFile);
const [endpoint = '', prefix = '/coreos.com/network', ownSubnet = ''] = process.argv.slice(2);

interface Lease {
  PublicIP: string;
  BackendType: string;
  BackendData?: { VNI?: number; VtepMAC?: string };
}

const programmed = new Map<string, { ip: string; mac: string }>();

function subnetOf(key: string): string | undefined {
  const m = /(\d+\.\d+\.\d+\.\d+)-(\d+)$/.exec(key);
  return m === null ? undefined : `${m[1]}/${m[2]}`;
}

async function add(subnet: string, lease: Lease): Promise<void> {
  const mac = lease.BackendData?.VtepMAC;
  if (mac === undefined || subnet === ownSubnet) return;
  const gw = subnet.split('/')[0] ?? '';
  const old = programmed.get(subnet);
  if (old !== undefined && old.mac !== mac) await exec('bridge', ['fdb', 'del', old.mac, 'dev', 'flannel.1']).catch(() => undefined);
  await exec('ip', ['neigh', 'replace', gw, 'dev', 'flannel.1', 'lladdr', mac, 'nud', 'permanent']);
  await exec('bridge', ['fdb', 'replace', mac, 'dev', 'flannel.1', 'dst', lease.PublicIP, 'self', 'permanent']);
  await exec('ip', ['route', 'replace', subnet, 'via', gw, 'dev', 'flannel.1', 'onlink']);
  programmed.set(subnet, { ip: lease.PublicIP, mac });
  console.log(`added ${subnet} via ${lease.PublicIP} (${mac})`);
}

async function remove(subnet: string): Promise<void> {
  const old = programmed.get(subnet);
  if (old === undefined) return;
  const gw = subnet.split('/')[0] ?? '';
  await exec('ip', ['route', 'del', subnet, 'via', gw, 'dev', 'flannel.1', 'onlink']).catch(() => undefined);
  await exec('bridge', ['fdb', 'del', old.mac, 'dev', 'flannel.1']).catch(() => undefined);
  await exec('ip', ['neigh', 'del', gw, 'dev', 'flannel.1']).catch(() => undefined);
  programmed.delete(subnet);
  console.log(`removed ${subnet}`);
}

const client = new Etcd3({ hosts: endpoint });
const subnets = `${prefix}/subnets/`;
const listing = await client.getAll().prefix(subnets).exec();
for (const kv of listing.kvs) {
  const subnet = subnetOf(kv.key.toString());
  if (subnet !== undefined) await add(subnet, JSON.parse(kv.value.toString()) as Lease);
}
const watcher = await client.watch().prefix(subnets).startRevision(String(Number(listing.header.revision) + 1)).create();
let queue = Promise.resolve();
watcher.on('put', (kv) => {
  const subnet = subnetOf(kv.key.toString());
  if (subnet !== undefined) queue = queue.then(() => add(subnet, JSON.parse(kv.value.toString()) as Lease)).catch((err: unknown) => console.error(String(err)));
});
watcher.on('delete', (kv) => {
  const subnet = subnetOf(kv.key.toString());
  if (subnet !== undefined) queue = queue.then(() => remove(subnet)).catch((err: unknown) => console.error(String(err)));
});
console.log('following leases');
process.on('SIGTERM', () => process.exit(0));
