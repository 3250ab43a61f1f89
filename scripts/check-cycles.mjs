// Fails when the relative imports under a directory form a cycle (controllers must stay independent).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'src');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
})(root);

const graph = new Map();
const IMPORT = /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"](\.[^'"]+)['"]/g;
for (const file of files) {
  const deps = [];
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    if (/^import\s+type\b|^export\s+type\b/.test(m[0])) continue; // type-only imports vanish at runtime
    deps.push(resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'));
  }
  graph.set(file, deps);
}

const state = new Map();
const cycles = [];
function visit(node, stack) {
  state.set(node, 1);
  stack.push(node);
  for (const dep of graph.get(node) ?? []) {
    if (!graph.has(dep)) continue;
    if (state.get(dep) === 1) cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
    else if (!state.has(dep)) visit(dep, stack);
  }
  stack.pop();
  state.set(node, 2);
}
for (const file of files) if (!state.has(file)) visit(file, []);
if (cycles.length > 0) {
  for (const c of cycles) console.error(`import cycle: ${c.map((f) => f.slice(root.length + 1)).join(' -> ')}`);
  process.exit(1);
}
console.log(`no import cycles in ${files.length} files`);
