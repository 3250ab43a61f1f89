/**
 * Runs inside the agent's namespace for `npm run bench -- registry` (Kubernetes part): creates N
 * Nodes annotated as flanneld annotates them, waits until the agent has programmed them all, then
 * times Node created → route in the kernel (and Node deleted → route gone), next to a reference:
 * the same write seen by a bare watch client in this process (one HTTPS watch request, lines
 * split and parsed, nothing else). Prints one JSON line.
 * argv: SERVER CA_FILE TOKEN NODES SAMPLES
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { promisify } from 'node:util';
import { clientForTarget } from '../src/kube/connect.js';

const exec = promisify(execFile);
const [server = '', caFile = '', token = '', nodesText = '1000', samplesText = '200'] = process.argv.slice(2);
const NODES = Number(nodesText);
const SAMPLES = Number(samplesText);
const F = 'flannel.alpha.coreos.com';

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const subnetOf = (i: number): string => `10.${1 + Math.floor(i / 256)}.${i % 256}.0/24`;
const hex = (n: number): string => (n & 255).toString(16).padStart(2, '0');
const nameOf = (i: number): string => `bench-node-${i}`;
const node = (i: number): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: nameOf(i),
    labels: { 'kubernetes.io/os': 'linux' },
    annotations: {
      [`${F}/backend-data`]: `{"VNI":1,"VtepMAC":"02:00:00:00:${hex(i >> 8)}:${hex(i)}"}`,
      [`${F}/backend-type`]: 'vxlan',
      [`${F}/kube-subnet-manager`]: 'true',
      [`${F}/public-ip`]: `172.16.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      'node.alpha.kubernetes.io/ttl': '0',
    },
  },
  spec: { podCIDR: subnetOf(i), podCIDRs: [subnetOf(i)] },
});

const client = await clientForTarget(
  { server, description: 'bench admin', ca: { kind: 'file', path: caFile, origin: { key: 'CA' } }, token: { kind: 'static', value: token, origin: { key: 'TOKEN' } } },
  { timeout: 30_000 },
);

// Kernel side: route additions/removals on flannel.1 as they happen.
const waiters = new Map<string, (t: number) => void>();
const monitor = spawn('ip', ['monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
let buffer = '';
monitor.stdout.on('data', (chunk: Buffer) => {
  const t = now();
  buffer += chunk.toString();
  const lines = buffer.split('\n');
  buffer = lines.pop() ?? '';
  for (const line of lines) {
    const deleted = line.startsWith('Deleted ');
    const m = /^(?:Deleted )?(\d+\.\d+\.\d+\.\d+\/\d+) via .* dev flannel\.1/.exec(line);
    if (m?.[1] === undefined) continue;
    const id = `${deleted ? '-' : '+'}${m[1]}`;
    waiters.get(id)?.(t);
    waiters.delete(id);
  }
});

// Reference: a bare watch on Nodes (from the current resourceVersion), ADDED/DELETED by name.
const watchWaiters = new Map<string, (t: number) => void>();
const listed = await client.listPage('/api/v1/nodes', { limit: 1 });
const ca = readFileSync(caFile);
const url = new URL(`${server}/api/v1/nodes?watch=1&allowWatchBookmarks=true&resourceVersion=${listed.resourceVersion}`);
const watchReq = request({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
  let pending = '';
  res.on('data', (chunk: Buffer) => {
    const t = now();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      const event = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
      const id = `${event.type === 'DELETED' ? '-' : event.type === 'ADDED' ? '+' : '?'}${event.object.metadata.name}`;
      watchWaiters.get(id)?.(t);
      watchWaiters.delete(id);
    }
  });
});
watchReq.end();

function expect(map: Map<string, (t: number) => void>, id: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${id}`)), timeoutMs);
    map.set(id, (t) => {
      clearTimeout(timer);
      resolve(t);
    });
  });
}

async function routeCount(): Promise<number> {
  const { stdout } = await exec('ip', ['route', 'show', 'dev', 'flannel.1']);
  return stdout.split('\n').filter((l) => / via /.test(l)).length;
}

// Fill: one Node per POST, 20 in flight.
const fillStart = now();
for (let i = 0; i < NODES; i += 20) {
  await Promise.all(Array.from({ length: Math.min(20, NODES - i) }, (_, j) => client.create('/api/v1/nodes', node(i + j))));
}
const written = now() - fillStart;
for (let tries = 0; (await routeCount()) < NODES; tries += 1) {
  if (tries > 1200) throw new Error(`agent programmed only ${await routeCount()} of ${NODES} Nodes`);
  await new Promise((r) => setTimeout(r, 100));
}
const fillMs = now() - fillStart;

const add: number[] = [];
const del: number[] = [];
const refAdd: number[] = [];
const refDel: number[] = [];
for (let s = 0; s < SAMPLES; s += 1) {
  const i = NODES + 10 + s;
  const subnet = subnetOf(i);
  let kernel = expect(waiters, `+${subnet}`, 5000);
  let ref = expect(watchWaiters, `+${nameOf(i)}`, 5000);
  let t0 = now();
  await client.create('/api/v1/nodes', node(i));
  add.push((await kernel) - t0);
  refAdd.push((await ref) - t0);
  kernel = expect(waiters, `-${subnet}`, 5000);
  ref = expect(watchWaiters, `-${nameOf(i)}`, 5000);
  t0 = now();
  await client.delete(`/api/v1/nodes/${nameOf(i)}`);
  del.push((await kernel) - t0);
  refDel.push((await ref) - t0);
}

watchReq.destroy();
client.close();
monitor.kill();
console.log(JSON.stringify({ writtenMs: written, fillMs, add, del, refAdd, refDel }));
process.exit(0);
