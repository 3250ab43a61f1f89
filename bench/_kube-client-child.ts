/**
 * Child of `npm run bench -- kube-client`, bundled like the agent (the client in its own chunk,
 * imported lazily). `baseline`: what the agent has loaded anyway (zod, yaml, pino). `client`: that
 * plus the Kubernetes client following every Node (list + watch). Prints one JSON line when idle.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { createLogger } from '../src/log.js';

const mode = process.argv[2];
const kubeconfig = process.argv[3] ?? '';
const log = createLogger({ level: 'silent' });
z.object({ a: z.string() }).parse(parse('a: b'));

function memory(): { rssMb: number; privateMb: number; heapMb: number } {
  const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: kb('Rss') / 1024, privateMb: (kb('Private_Clean') + kb('Private_Dirty')) / 1024, heapMb: process.memoryUsage().heapUsed / 1048576 };
}

async function idle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000));
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 500));
}

if (mode === 'client') {
  const t0 = performance.now();
  const kube = await import('../src/kube/index.js');
  const { kubernetesSchema, kubernetesDefaults } = await import('../src/kube/config-schema.js');
  const importMs = performance.now() - t0;
  const client = await kube.createKubeClient(kubernetesSchema.parse({ ...kubernetesDefaults(), kubeconfig }));
  const informer = new kube.Informer({ client, path: kube.resourcePath({ version: 'v1', resource: 'nodes' }), log });
  const t1 = performance.now();
  informer.start();
  await informer.waitForSync(120_000);
  const syncMs = performance.now() - t1;
  await idle();
  console.log(JSON.stringify({ ...memory(), importMs, syncMs, objects: informer.list().size, connected: informer.status().connected }));
  await informer.stop();
  client.close();
} else {
  await idle();
  console.log(JSON.stringify(memory()));
}
