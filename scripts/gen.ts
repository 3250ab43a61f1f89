/**
 * `npm run gen`: regenerates every generated file (docs/errors.md, docs/config.md, the gRPC
 * message types in src/identity/generated/). `npm run gen -- --check` writes nothing and fails,
 * naming each file, when one is stale: the test command runs it, so a change to src/errors.ts,
 * a config schema or a .proto without regenerating fails CI.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDoc } from './gen/config-doc.js';
import { errorsDoc } from './gen/errors-doc.js';
import { grpcTypes } from './gen/grpc-types.js';
import type { Generated } from './gen/output.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GENERATORS: readonly (() => Generated | Promise<Generated>)[] = [errorsDoc, configDoc, () => grpcTypes(ROOT)];

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries.filter((e) => e.isFile()).map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const generate of GENERATORS) {
    const out = await generate();
    for (const [path, content] of out.files) {
      if ((await readOrUndefined(join(ROOT, path))) === content) continue;
      stale.push(path);
      if (!check) {
        await mkdir(dirname(join(ROOT, path)), { recursive: true });
        await writeFile(join(ROOT, path), content);
      }
    }
    for (const dir of out.owns) {
      for (const path of await filesUnder(dir)) {
        if (out.files.has(path)) continue;
        stale.push(`${path} (no longer generated)`);
        if (!check) await rm(join(ROOT, path));
      }
    }
  }
  if (check && stale.length > 0) {
    process.stderr.write(`generated files are stale; run \`npm run gen\` and commit:\n${stale.map((p) => `  ${p}\n`).join('')}`);
    return 1;
  }
  process.stdout.write(stale.length === 0 ? 'generated files are up to date\n' : `regenerated:\n${stale.map((p) => `  ${p}\n`).join('')}`);
  return 0;
}

process.exitCode = await main();
