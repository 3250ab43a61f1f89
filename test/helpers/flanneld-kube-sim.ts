/**
 * A stand-in for flanneld with --kube-subnet-mgr on a "Kubernetes node" namespace: follows every
 * Node and programs this node's flannel.1 for each other Node marked kube-subnet-manager "true"
 * with backend-type vxlan, exactly as flanneld's VXLAN backend does (neighbour, FDB, onlink route),
 * with ip/bridge. An update re-programs only when backend-data, backend-type or public-ip changed,
 * as flanneld's informer handler does; a deleted Node is withdrawn.
 * Run inside the node namespace: node --import tsx flanneld-kube-sim.ts SERVER CA_FILE TOKEN OWN_NODE
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { clientForTarget } from '../../src/kube/connect.js';
import { Informer } from '../../src/kube/informer.js';
import type { KubeObject } from '../../src/kube/objects.js';
import { createLogger } from '../../src/log.js';

const exec = promisify(execFile);
const [server = '', caFile = '', token = '', ownNode = ''] = process.argv.slice(2);
const P = 'flannel.alpha.coreos.com';

interface Lease {
  subnet: string;
  publicIP: string;
  mac: string;
}

const programmed = new Map<string, Lease>();

function leaseOf(node: KubeObject): Lease | undefined {
  const a = node.metadata.annotations ?? {};
  if (a[`${P}/kube-subnet-manager`] !== 'true' || a[`${P}/backend-type`] !== 'vxlan') return undefined;
  const subnet = (node.spec as { podCIDR?: string } | undefined)?.podCIDR;
  const mac = (JSON.parse(a[`${P}/backend-data`] ?? '{}') as { VtepMAC?: string }).VtepMAC;
  const publicIP = a[`${P}/public-ip`];
  return subnet === undefined || mac === undefined || publicIP === undefined ? undefined : { subnet, publicIP, mac };
}

async function add(name: string, lease: Lease): Promise<void> {
  const old = programmed.get(name);
  if (old !== undefined && old.subnet === lease.subnet && old.publicIP === lease.publicIP && old.mac === lease.mac) return;
  const gw = lease.subnet.split('/')[0] ?? '';
  if (old !== undefined && old.mac !== lease.mac) await exec('bridge', ['fdb', 'del', old.mac, 'dev', 'flannel.1']).catch(() => undefined);
  await exec('ip', ['neigh', 'replace', gw, 'dev', 'flannel.1', 'lladdr', lease.mac, 'nud', 'permanent']);
  await exec('bridge', ['fdb', 'replace', lease.mac, 'dev', 'flannel.1', 'dst', lease.publicIP, 'self', 'permanent']);
  await exec('ip', ['route', 'replace', lease.subnet, 'via', gw, 'dev', 'flannel.1', 'onlink']);
  programmed.set(name, lease);
  console.log(`added ${name} ${lease.subnet} via ${lease.publicIP} (${lease.mac})`);
}

async function remove(name: string): Promise<void> {
  const old = programmed.get(name);
  if (old === undefined) return;
  const gw = old.subnet.split('/')[0] ?? '';
  await exec('ip', ['route', 'del', old.subnet, 'via', gw, 'dev', 'flannel.1', 'onlink']).catch(() => undefined);
  await exec('bridge', ['fdb', 'del', old.mac, 'dev', 'flannel.1']).catch(() => undefined);
  await exec('ip', ['neigh', 'del', gw, 'dev', 'flannel.1']).catch(() => undefined);
  programmed.delete(name);
  console.log(`removed ${name}`);
}

const client = await clientForTarget(
  { server, description: 'flanneld stand-in', ca: { kind: 'file', path: caFile, origin: { key: 'CA' } }, token: { kind: 'static', value: token, origin: { key: 'TOKEN' } } },
  { timeout: 30_000 },
);
let queue = Promise.resolve();
const informer = new Informer({
  client,
  path: '/api/v1/nodes',
  log: createLogger({ level: 'silent' }),
  onChange: (changes, objects) => {
    for (const c of changes) {
      if (c.key === ownNode) continue;
      const lease = c.type === 'deleted' ? undefined : leaseOf(objects.get(c.key) ?? c.object);
      queue = queue.then(() => (lease === undefined ? remove(c.key) : add(c.key, lease))).catch((err: unknown) => console.error(String(err)));
    }
  },
});
informer.start();
await informer.waitForSync(60_000);
await queue;
console.log('following nodes');
process.on('SIGTERM', () => process.exit(0));
