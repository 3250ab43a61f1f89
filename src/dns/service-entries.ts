/**
 * Loads the ServiceEntry manifests named by dns.serviceEntries.paths (files, or directories of
 * *.yaml/*.yml/*.json) and rebuilds the mesh table when they change: fs.watch for promptness plus
 * a slow poll for file systems where watching misses events. A bad manifest is reported with its
 * file and reason and the last good table stays in use.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { errorMessage } from '../errors.js';
import type { MeshTable } from './mesh-table.js';
import { buildMeshTable, type ManifestFile, type ManifestProblem } from './mesh-table.js';

const POLL_MS = 5000;
const DEBOUNCE_MS = 100;
const MANIFEST_EXT = /\.(ya?ml|json)$/i;

export interface LoadOutcome {
  table: MeshTable;
  /** Problems of the latest attempt; when non-empty the table is the previous good one. */
  problems: ManifestProblem[];
  changed: boolean;
}

export interface ServiceEntrySourceOptions {
  paths: readonly string[];
  autoAllocate: string;
  ttl: number;
  /** Served until a load succeeds (the previous table across a config reload). */
  initial: MeshTable;
  /** Entries from another source (the Kubernetes API), already checked: built into the same table. */
  extra?: () => readonly { hosts: readonly string[]; addresses: readonly string[] }[];
  onChange(outcome: LoadOutcome): void;
}

async function readManifests(paths: readonly string[]): Promise<{ files: ManifestFile[]; problems: ManifestProblem[] }> {
  const files: ManifestFile[] = [];
  const problems: ManifestProblem[] = [];
  for (const path of paths) {
    try {
      const info = await stat(path);
      const names = info.isDirectory() ? (await readdir(path)).filter((n) => MANIFEST_EXT.test(n)).sort().map((n) => join(path, n)) : [path];
      for (const file of names) files.push({ file, text: await readFile(file, 'utf8') });
    } catch (err) {
      problems.push({ file: path, reason: `cannot read: ${errorMessage(err)}` });
    }
  }
  return { files, problems };
}

export class ServiceEntrySource {
  private table: MeshTable;
  private lastText: string | undefined;
  /** The files of the last good build: the other source's changes are built with them. */
  private goodFiles: ManifestFile[] = [];
  private watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  problems: ManifestProblem[] = [];
  lastLoad: string | undefined;
  loads = 0;

  constructor(private readonly options: ServiceEntrySourceOptions) {
    this.table = options.initial;
  }

  get current(): MeshTable {
    return this.table;
  }

  /** First load (awaited) and watching. */
  async start(): Promise<void> {
    await this.load();
    if (this.options.paths.length === 0) return;
    const dirs = new Set<string>();
    for (const p of this.options.paths) {
      const abs = resolve(p);
      dirs.add(abs);
      dirs.add(dirname(abs));
    }
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, () => this.schedule());
        watcher.on('error', () => undefined);
        this.watchers.push(watcher);
      } catch {
        // Not there (yet) or not a directory: the poll covers it.
      }
    }
    this.poll = setInterval(() => this.schedule(), POLL_MS);
    this.poll.unref();
  }

  stop(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }

  /** Loads now (used by reload); coalesces with a load in progress. */
  async reloadNow(): Promise<void> {
    this.lastText = undefined;
    await this.load();
  }

  /**
   * Builds again from the last good files and the other source's current entries (it changed);
   * the files are not read again.
   */
  rebuild(): void {
    // Before the first load the load itself builds with the other source's entries.
    if (this.loads === 0) return;
    const built = buildMeshTable(this.goodFiles, this.options.autoAllocate, this.options.ttl, this.options.extra?.() ?? []);
    // VIP exhaustion is the only problem a build of good files can have: reported, and the hosts
    // that got an address are served (entries from the cluster must not freeze the table).
    this.problems = [...this.problems.filter((p) => p.file !== '(autoAllocate)'), ...built.problems];
    this.table = built.table;
    this.loads += 1;
    this.lastLoad = new Date().toISOString();
    this.options.onChange({ table: this.table, problems: [], changed: true });
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.load(), DEBOUNCE_MS);
  }

  private async load(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = this.loadOnce().finally(() => {
      this.running = undefined;
    });
    await this.running;
    if (this.again) {
      this.again = false;
      await this.load();
    }
  }

  private async loadOnce(): Promise<void> {
    const { files, problems: readProblems } = await readManifests(this.options.paths);
    const text = JSON.stringify(files) + JSON.stringify(readProblems);
    if (text === this.lastText) return;
    this.lastText = text;
    const built = buildMeshTable(files, this.options.autoAllocate, this.options.ttl, this.options.extra?.() ?? []);
    const problems = [...readProblems, ...built.problems];
    this.problems = problems;
    this.loads += 1;
    this.lastLoad = new Date().toISOString();
    if (problems.length === 0) {
      this.table = built.table;
      this.goodFiles = files;
    }
    this.options.onChange({ table: this.table, problems, changed: problems.length === 0 });
  }
}

/** "file: reason" lines for logs and errors. */
export function describeProblems(problems: readonly ManifestProblem[]): string {
  return problems.map((p) => `${p.file}: ${p.reason}`).join('; ');
}
