/**
 * The bundle's split, as scripts/build.mjs makes it: one chunk per controller, loaded only when that
 * controller is enabled, and a main chunk (with everything it imports statically) free of the
 * heavy dependencies. A DNS-only VM must not load gRPC, node-forge, etcd3 or netlink: config schemas
 * and checks live beside each controller, and must never drag its code into the main chunk. The
 * status server's fastify is loaded only when the agent starts, so the CLI's other commands start fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { REPO_ROOT } from '../helpers/agent-process.js';

const HEAVY = [/node_modules\/@grpc\//, /node_modules\/etcd3\//, /node_modules\/node-forge\//, /node_modules\/netlink\//];
/** Loaded when the agent starts serving (src/agent/agent.ts): `version` and `check-config` never compile it. */
const SERVING = [/node_modules\/fastify\//, /node_modules\/ajv\//];
const CONTROLLERS = ['identity', 'overlay', 'capture', 'dns'];

async function split(): Promise<Metafile> {
  const result = await build({
    entryPoints: { main: join(REPO_ROOT, 'src/main.ts') },
    outdir: join(REPO_ROOT, 'dist', `chunks-${process.pid}`),
    write: false,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    external: ['netlink', 'node-gyp-build'],
    define: { __MNA_VERSION__: '"test"' },
    metafile: true,
    logLevel: 'silent',
  });
  return result.metafile;
}

/** Outputs reachable from `start` through static imports only (what loading it evaluates). */
function staticClosure(meta: Metafile, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const queue = [start];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    for (const imp of meta.outputs[file]?.imports ?? []) {
      if (imp.kind === 'import-statement' && !imp.external && !seen.has(imp.path)) {
        seen.add(imp.path);
        queue.push(imp.path);
      }
    }
  }
  return seen;
}

test('the main chunk loads no controller dependency; each controller has its own chunk', async () => {
  const meta = await split();
  const main = Object.keys(meta.outputs).find((file) => meta.outputs[file]?.entryPoint?.endsWith('src/main.ts') === true);
  assert.ok(main !== undefined, 'the main entry has an output');
  const eager = staticClosure(meta, main);
  const eagerInputs = [...eager].flatMap((file) => Object.keys(meta.outputs[file]?.inputs ?? {}));
  for (const heavy of [...HEAVY, ...SERVING]) assert.deepEqual(eagerInputs.filter((input) => heavy.test(input)), [], `${String(heavy)} stays out of the main chunk`);
  const eagerExternals = [...eager].flatMap((file) => (meta.outputs[file]?.imports ?? []).filter((i) => i.external && i.kind === 'import-statement').map((i) => i.path));
  assert.ok(!eagerExternals.includes('netlink'), 'the netlink addon is imported only by the overlay chunk');
  for (const name of CONTROLLERS) {
    const controller = `src/${name}/controller.ts`;
    assert.ok(!eagerInputs.includes(controller), `${controller} is not in the main chunk`);
    const chunks = Object.keys(meta.outputs).filter((file) => Object.keys(meta.outputs[file]?.inputs ?? {}).includes(controller));
    assert.equal(chunks.length, 1, `${controller} is in exactly one chunk`);
  }
});
