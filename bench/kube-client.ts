/**
 * `npm run bench -- kube-client [NODES] [ROUNDS]`: what the Kubernetes client costs the agent. A real
 * kube-apiserver (test/helpers/kube-apiserver.ts) holds NODES Nodes (default 1000, shaped like
 * flannel's); the reference is a process with what the agent loads anyway (zod, yaml, pino); the
 * measured one is the same plus the client following every Node. Both run as the .deb runs the
 * agent (the bundle, the launcher's Node flags) and report RSS and private memory when idle.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '../test/helpers/agent-process.js';
import { startKubeApiServer } from '../test/helpers/kube-apiserver.js';
import { NODES, nodeManifest } from '../test/helpers/kube-fixtures.js';
import { launcherNodeFlags } from './_shipped.js';
import { median } from './_stats.js';

interface Sample {
  rssMb: number;
  privateMb: number;
  heapMb: number;
  importMs?: number;
  syncMs?: number;
  objects?: number;
}

function runChild(argv: string[]): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') reject(new Error(`child exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as Sample);
    });
  });
}

const annotations = (i: number): Record<string, string> => ({
  'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
  'flannel.alpha.coreos.com/backend-type': 'vxlan',
  'flannel.alpha.coreos.com/backend-data': `{"VNI":1,"VtepMAC":"fe:3f:4a:8c:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}"}`,
  'flannel.alpha.coreos.com/public-ip': `192.168.${(i >> 8) & 0xff}.${i & 0xff}`,
});

export async function main(args: string[]): Promise<void> {
  const nodes = Number(args[0] ?? 1000);
  const rounds = Number(args[1] ?? 3);
  const out = await mkdtemp(join(tmpdir(), 'mna-bench-kube-'));
  const api = await startKubeApiServer('tkcb');
  try {
    await build({
      entryPoints: [join(REPO_ROOT, 'bench/_kube-client-child.ts')],
      bundle: true, platform: 'node', format: 'esm', target: 'node20', splitting: true, outdir: out,
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      logLevel: 'error',
    });
    for (let i = 0; i < nodes; i += 8) {
      await Promise.all(Array.from({ length: Math.min(8, nodes - i) }, (_, j) => api.admin.create(NODES, nodeManifest(`bench-${i + j}`, {}, annotations(i + j)))));
    }
    const flags = [...(await launcherNodeFlags()), '--expose-gc'];
    const child = join(out, '_kube-client-child.js');
    const base: Sample[] = [];
    const client: Sample[] = [];
    for (let r = 0; r < rounds; r += 1) {
      base.push(await runChild([...flags, child, 'baseline']));
      client.push(await runChild([...flags, child, 'client', api.env.KUBECONFIG]));
    }
    const m = (s: Sample[], f: (x: Sample) => number): number => median(s.map(f));
    const rss = m(client, (s) => s.rssMb) - m(base, (s) => s.rssMb);
    const priv = m(client, (s) => s.privateMb) - m(base, (s) => s.privateMb);
    console.log(`kube-client: ${nodes} Nodes, ${rounds} rounds (medians)`);
    console.log(`  reference (zod, yaml, pino loaded): RSS ${m(base, (s) => s.rssMb).toFixed(1)} MB, private ${m(base, (s) => s.privateMb).toFixed(1)} MB`);
    console.log(`  + client following ${m(client, (s) => s.objects ?? 0)} Nodes: RSS ${m(client, (s) => s.rssMb).toFixed(1)} MB (+${rss.toFixed(1)}), private +${priv.toFixed(1)} MB, heap ${m(client, (s) => s.heapMb).toFixed(1)} MB (reference ${m(base, (s) => s.heapMb).toFixed(1)})`);
    console.log(`  client chunk import ${m(client, (s) => s.importMs ?? 0).toFixed(1)} ms; first list of ${nodes} Nodes ${m(client, (s) => s.syncMs ?? 0).toFixed(0)} ms`);
    console.log(`  ratio client/reference RSS: ${(m(client, (s) => s.rssMb) / m(base, (s) => s.rssMb)).toFixed(2)}`);
  } finally {
    await api.cleanup();
    await rm(out, { recursive: true, force: true });
  }
}
