/**
 * Runs inside the agent's namespace for `npm run bench -- registry`: fills the registry with N
 * leases, waits until the agent has programmed them, then times lease written → route in the
 * kernel (and lease deleted → route gone), next to a reference: the same write seen by a bare etcd
 * watch in this process. Prints one JSON line.
 * argv: ENDPOINT PREFIX LEASES SAMPLES
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';

const exec = promisify(execFile);
const [endpoint = '', prefix = '/coreos.com/network', leasesText = '1000', samplesText = '200'] = process.argv.slice(2);
const LEASES = Number(leasesText);
const SAMPLES = Number(samplesText);

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const subnetOf = (i: number): string => `10.${1 + Math.floor(i / 256)}.${i % 256}.0/24`;
const hex = (n: number): string => (n & 255).toString(16).padStart(2, '0');
const value = (i: number): string =>
  `{"PublicIP":"172.16.${Math.floor(i / 250)}.${(i % 250) + 1}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:${hex(i >> 8)}:${hex(i)}"}}`;
const key = (i: number): string => `${prefix}/subnets/${subnetOf(i).replace('/', '-')}`;

const client = new Etcd3({ hosts: endpoint });

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

// Reference: the same writes seen by a bare etcd watch.
const watchWaiters = new Map<string, (t: number) => void>();
const watcher = await client.watch().prefix(`${prefix}/subnets/`).create();
const onWatch = (sign: string) => (kv: { key: Buffer }): void => {
  const t = now();
  const id = `${sign}${kv.key.toString()}`;
  watchWaiters.get(id)?.(t);
  watchWaiters.delete(id);
};
watcher.on('put', onWatch('+'));
watcher.on('delete', onWatch('-'));

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

// Fill: one lease per put, 50 in flight.
const fillStart = now();
for (let i = 0; i < LEASES; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, LEASES - i) }, (_, j) => client.put(key(i + j)).value(value(i + j))));
}
for (let tries = 0; (await routeCount()) < LEASES; tries += 1) {
  if (tries > 600) throw new Error(`agent programmed only ${await routeCount()} of ${LEASES} leases`);
  await new Promise((r) => setTimeout(r, 100));
}
const fillMs = now() - fillStart;

const add: number[] = [];
const del: number[] = [];
const refAdd: number[] = [];
const refDel: number[] = [];
for (let s = 0; s < SAMPLES; s += 1) {
  const i = LEASES + 10 + s;
  const subnet = subnetOf(i);
  let kernel = expect(waiters, `+${subnet}`, 5000);
  let ref = expect(watchWaiters, `+${key(i)}`, 5000);
  let t0 = now();
  await client.put(key(i)).value(value(i));
  add.push((await kernel) - t0);
  refAdd.push((await ref) - t0);
  kernel = expect(waiters, `-${subnet}`, 5000);
  ref = expect(watchWaiters, `-${key(i)}`, 5000);
  t0 = now();
  await client.delete().key(key(i));
  del.push((await kernel) - t0);
  refDel.push((await ref) - t0);
}

await watcher.cancel();
// Leave the registry as we found it after the fill (steady state measured next by the caller).
client.close();
monitor.kill();
console.log(JSON.stringify({ fillMs, add, del, refAdd, refDel }));
process.exit(0);
