/** Replaced at bundle time by esbuild's `define`; read from package.json in development. */
import { readFileSync } from 'node:fs';

declare const __MNA_VERSION__: string | undefined;

function readVersion(): string {
  if (typeof __MNA_VERSION__ === 'string') return __MNA_VERSION__;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0-dev';
  } catch {
    return '0.0.0-dev';
  }
}

export const VERSION = readVersion();
