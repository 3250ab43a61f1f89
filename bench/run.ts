/**
 * `npm run bench -- NAME [args]`: runs bench/NAME.ts. Each benchmark measures a reference in the
 * same run and prints a ratio, so results compare across machines.
 */
import { readdirSync } from 'node:fs';

const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.replace(/\.ts$/, ''));
if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME; NAME is one of: ${available.join(', ')}`);
  process.exit(64);
}
const mod = (await import(`./${name}.ts`)) as { main(args: string[]): Promise<void> };
await mod.main(rest);
