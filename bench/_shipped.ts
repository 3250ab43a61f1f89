/**
 * The agent as the .deb runs it: the output of scripts/build.mjs, started with the Node flags of
 * the packaged launcher (debian/launcher/mesh-node-agent), read from that file so there is one copy.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/helpers/agent-process.js';
import { must } from '../test/helpers/exec.js';

export async function launcherNodeFlags(): Promise<string[]> {
  const script = await readFile(join(REPO_ROOT, 'debian/launcher/mesh-node-agent'), 'utf8');
  const exec = script.split('\n').find((l) => /^exec\s/.test(l));
  if (exec === undefined) throw new Error('debian/launcher/mesh-node-agent has no exec line');
  const words = exec.trim().split(/\s+/);
  const mainAt = words.findIndex((w) => w.endsWith('main.mjs'));
  return words.slice(2, mainAt).filter((w) => w.startsWith('--'));
}

export interface ShippedBuild {
  main: string;
  /** The launcher's flags, any extra node flags, main.mjs, then `args`: prepend process.execPath. */
  argv: (args: readonly string[], extraNodeFlags?: readonly string[]) => string[];
  cleanup(): Promise<void>;
}

export async function shippedBuild(): Promise<ShippedBuild> {
  const dir = await mkdtemp(join(tmpdir(), 'mna-bench-build-'));
  await must(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs')], { env: { ...process.env, MNA_BUILD_OUT: dir } });
  const flags = await launcherNodeFlags();
  const main = join(dir, 'main.mjs');
  return { main, argv: (args, extra = []) => [...flags, ...extra, main, ...args], cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Resident and private (not shared with any other process) memory of a process, in MB. */
export async function memoryOf(pid: number | undefined): Promise<{ rssMb: number; privateMb: number }> {
  if (pid === undefined) return { rssMb: NaN, privateMb: NaN };
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: kb('Rss') / 1024, privateMb: (kb('Private_Clean') + kb('Private_Dirty')) / 1024 };
}
