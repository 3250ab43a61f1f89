#!/usr/bin/env node
// The package.json bin: the built bundle (npm run build) when present, else the sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/main.mjs', import.meta.url);
if (existsSync(fileURLToPath(bundle))) {
  // The bundle cannot find proto/ relative to a source file; tell it where build.mjs put it.
  process.env.MNA_PROTO_DIR ??= fileURLToPath(new URL('../dist/proto', import.meta.url));
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/main.ts', import.meta.url).href);
}
