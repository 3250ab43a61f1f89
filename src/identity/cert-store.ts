/**
 * The installed identity in identity.certDir, crash-consistent at every instant.
 *
 * key.pem and cert-chain.pem are symlinks into `..data/`, and `..data` is a symlink to a complete,
 * fsynced generation directory `..gen-<id>/` (the layout Kubernetes uses for secret volumes).
 * Installing writes a new generation, then renames a fresh `..data` link over the old one: the
 * single atomic switch of both files. A kill at any moment leaves either the old pair or the new
 * pair visible, never one of each. root-cert.pem is a plain file replaced by temp file + rename.
 *
 * repair() (run on start and before each install) first makes certDir root's, then moves aside
 * whatever under the agent's names it did not make (cert-dir-plan.ts), removes half-written
 * generations and temp files, and converts plain key.pem/cert-chain.pem files (provisioned by hand)
 * into the layout by snapshotting what is visible, so the conversion itself never changes what
 * readers see. Nothing is read through a link: the pair is read from the generation `..data` names,
 * with O_NOFOLLOW, after checking that generation is a root-only directory.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writableByOthers } from '../safe-file/policy.js';
import { errnoOf, factsOf, readNoFollow } from '../safe-file/read.js';
import {
  CHAIN_FILE,
  DATA_LINK,
  FOREIGN_PREFIX,
  GEN_PREFIX,
  KEY_FILE,
  META_FILE,
  PAIR,
  ROOT_FILE,
  isGenerationName,
  judgeEntries,
  type EntryFacts,
} from './cert-dir-plan.js';
import { secureCertDir } from './cert-dir-secure.js';
import { fsyncDir, writeFileDurably, writeNewFile } from '../host/durable-file.js';
import type { Owner } from '../host/owner.js';

export { CHAIN_FILE, DATA_LINK, KEY_FILE, META_FILE, ROOT_FILE } from './cert-dir-plan.js';

/** Far above any PEM bundle; a bigger file in certDir is not the agent's. */
const MAX_FILE_BYTES = 1 << 20;

export interface GenerationMeta {
  /** Local time the certificate was received; rotation timing runs from here. */
  issuedAt: number;
  spiffeId: string;
  serial: string;
}

export interface StoredFiles {
  keyPem?: string;
  chainPem?: string;
  /** Only when root wrote it: a root-cert.pem someone else could change is never trusted. */
  rootPem?: string;
  meta?: GenerationMeta;
}

export interface InstallInput {
  keyPem: string;
  chainPem: string;
  rootPem: string;
  meta: GenerationMeta;
}

export interface InstallResult {
  pairWritten: boolean;
  rootWritten: boolean;
  generation?: string;
}

/** Something in certDir the agent did not make, or certDir itself not being root's, and what was done. */
export interface CertDirFinding {
  entry: string;
  problem: string;
  action: string;
}

export interface CertStoreOptions {
  /** Who gets key.pem (nobody else gets anything). */
  owner?: () => Owner | undefined;
  report?: (finding: CertDirFinding) => void;
  euid?: number;
}

export class CertStore {
  private readonly euid: number;

  constructor(
    readonly dir: string,
    private readonly options: CertStoreOptions = {},
  ) {
    this.euid = options.euid ?? process.geteuid?.() ?? 0;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  async read(): Promise<StoredFiles> {
    const generation = await this.currentGeneration();
    const [keyPem, chainPem, metaText, rootPem] = await Promise.all([
      this.readPair(KEY_FILE, generation),
      this.readPair(CHAIN_FILE, generation),
      generation === undefined ? undefined : this.readPlain(join(generation, META_FILE)),
      this.readRoot(),
    ]);
    return { keyPem, chainPem, rootPem, meta: parseMeta(metaText) };
  }

  /** Brings the directory into the layout; returns what it had to fix (for the log). */
  async repair(): Promise<string[]> {
    const notes: string[] = [];
    const change = await secureCertDir(this.dir, this.euid);
    if (change?.problem !== undefined) this.report({ entry: '.', problem: change.problem, action: change.action });
    else if (change !== undefined) notes.push(`${this.dir} ${change.action}`);
    const verdicts = judgeEntries(await this.scan(), this.euid);
    for (const verdict of verdicts) {
      if (verdict.action === 'remove') {
        await rm(this.path(verdict.name), { recursive: true, force: true });
        notes.push(`removed unfinished ${verdict.name}`);
      } else if (verdict.action === 'move-aside') {
        const to = `${FOREIGN_PREFIX}${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}-${verdict.name}`;
        await rename(this.path(verdict.name), this.path(to));
        this.report({ entry: verdict.name, problem: verdict.problem, action: `moved aside to ${to}, not read` });
      } else if (verdict.action === 'distrust') {
        this.report({ entry: verdict.name, problem: verdict.problem, action: 'not trusted; replaced at the next install' });
      }
    }
    const adopt = PAIR.filter((name) => verdicts.some((v) => v.name === name && v.action === 'adopt'));
    if (adopt.length > 0) {
      // Plain files: snapshot exactly what is visible into a generation, switch to it, then replace
      // each plain file with its link. Both files show the same bytes throughout.
      const current = await this.currentGeneration();
      const [keyPem, chainPem] = await Promise.all(PAIR.map((name) => (adopt.includes(name) ? this.readPlain(name) : this.readPair(name, current))));
      const generation = await this.writeGeneration({ keyPem, chainPem, meta: undefined });
      await this.switchData(generation);
      notes.push(`adopted plain ${adopt.join(' and ')} into ${generation}`);
    }
    for (const name of PAIR) {
      if (!(await this.isAgentLink(name))) await this.replaceWithLink(name);
    }
    await fsyncDir(this.dir);
    const removed = await this.removeStaleGenerations();
    if (removed.length > 0) notes.push(`removed old ${removed.join(', ')}`);
    return notes;
  }

  /** Installs a new pair (and root when it changed); files whose content is unchanged are left alone. */
  async install(input: InstallInput): Promise<InstallResult> {
    await this.repair();
    const current = await this.read();
    const result: InstallResult = { pairWritten: false, rootWritten: false };
    // The root goes first: peers verifying our new chain need it, and the old chain still verifies
    // until the switch during an ordinary rotation (same root).
    if (current.rootPem !== input.rootPem) {
      await writeFileDurably(this.path(ROOT_FILE), input.rootPem, { mode: 0o644, owner: 'agent' });
      result.rootWritten = true;
    }
    if (current.keyPem !== input.keyPem || current.chainPem !== input.chainPem) {
      const generation = await this.writeGeneration({ keyPem: input.keyPem, chainPem: input.chainPem, meta: input.meta });
      await this.switchData(generation);
      await this.removeStaleGenerations();
      result.pairWritten = true;
      result.generation = generation;
    }
    return result;
  }

  private report(finding: CertDirFinding): void {
    this.options.report?.(finding);
  }

  private async scan(): Promise<Map<string, EntryFacts>> {
    const entries = new Map<string, EntryFacts>();
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(FOREIGN_PREFIX)) continue;
      try {
        const facts: EntryFacts = factsOf(await lstat(this.path(name)));
        if (facts.kind === 'link') facts.target = await readlink(this.path(name));
        entries.set(name, facts);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw err;
      }
    }
    return entries;
  }

  /** The generation `..data` names, when it is one the agent wrote (a root-only directory). */
  private async currentGeneration(): Promise<string | undefined> {
    let target: string;
    try {
      target = await readlink(this.path(DATA_LINK));
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'EINVAL') return undefined;
      throw err;
    }
    if (!isGenerationName(target)) return undefined;
    try {
      const facts = factsOf(await lstat(this.path(target)));
      return facts.kind === 'dir' && writableByOthers(facts, this.euid) === undefined ? target : undefined;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  private async isAgentLink(name: string): Promise<boolean> {
    try {
      return (await readlink(this.path(name))) === `${DATA_LINK}/${name}`;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'EINVAL') return false;
      throw err;
    }
  }

  /** A file of the pair as readers see it: only through the agent's own link, read from the generation itself. */
  private async readPair(name: string, generation: string | undefined): Promise<string | undefined> {
    if (generation === undefined || !(await this.isAgentLink(name))) return undefined;
    return this.readPlain(join(generation, name));
  }

  private async readPlain(relative: string): Promise<string | undefined> {
    const result = await readNoFollow(this.path(relative), MAX_FILE_BYTES);
    return result.kind === 'ok' ? result.text : undefined;
  }

  private async readRoot(): Promise<string | undefined> {
    const result = await readNoFollow(this.path(ROOT_FILE), MAX_FILE_BYTES);
    if (result.kind !== 'ok' || result.facts.nlink !== 1 || writableByOthers(result.facts, this.euid) !== undefined) return undefined;
    return result.text;
  }

  private async writeGeneration(files: { keyPem?: string; chainPem?: string; meta: GenerationMeta | undefined }): Promise<string> {
    const owner = this.options.owner?.();
    const name = `${GEN_PREFIX}${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const temp = this.path(`${name}.tmp`);
    // The generation directory stays root's: under systemd the agent has CAP_CHOWN but no
    // CAP_DAC_OVERRIDE, so it could neither write into nor prune a directory owned by the proxy.
    // The mode is set explicitly: under the unit's UMask=0077 mkdir alone gives 0700, and the
    // proxy could not reach its key.
    await mkdir(temp, { mode: 0o755 });
    await chmod(temp, 0o755);
    if (files.keyPem !== undefined) {
      // With an owner the key is owner:root 0640: the proxy reads it as owner and the agent, for
      // its own renewals after a restart, through group root (no CAP_DAC_READ_SEARCH either).
      const spec = owner === undefined ? { mode: 0o600, owner: 'agent' as const } : { mode: 0o640, owner: { uid: owner.uid, gid: 0 } };
      await writeNewFile(join(temp, KEY_FILE), files.keyPem, spec);
    }
    // Everything but the key stays root's: the proxy reads it and cannot change it.
    if (files.chainPem !== undefined) await writeNewFile(join(temp, CHAIN_FILE), files.chainPem, { mode: 0o644, owner: 'agent' });
    if (files.meta !== undefined) await writeNewFile(join(temp, META_FILE), `${JSON.stringify(files.meta)}\n`, { mode: 0o644, owner: 'agent' });
    await fsyncDir(temp);
    await rename(temp, this.path(name));
    await fsyncDir(this.dir);
    return name;
  }

  /** The commit point: one rename makes the new generation visible through both links. */
  private async switchData(generation: string): Promise<void> {
    await this.atomicSymlink(generation, DATA_LINK);
    await fsyncDir(this.dir);
  }

  private async replaceWithLink(name: string): Promise<void> {
    await this.atomicSymlink(`${DATA_LINK}/${name}`, name);
  }

  /** Links stay root's: only the key file is handed to the proxy. */
  private async atomicSymlink(target: string, name: string): Promise<void> {
    const temp = this.path(`.${name.replace(/^\.+/, '')}.tmp-${randomBytes(4).toString('hex')}`);
    await symlink(target, temp);
    await rename(temp, this.path(name));
  }

  /** Every generation but the current one; foreign ones were moved aside by repair, so all left are the agent's. */
  private async removeStaleGenerations(): Promise<string[]> {
    const current = await this.currentGeneration();
    const stale = (await readdir(this.dir)).filter((name) => isGenerationName(name) && name !== current);
    for (const name of stale) await rm(this.path(name), { recursive: true, force: true });
    return stale;
  }
}

function parseMeta(text: string | undefined): GenerationMeta | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<GenerationMeta>;
    if (typeof value.issuedAt === 'number' && typeof value.spiffeId === 'string' && typeof value.serial === 'string') {
      return { issuedAt: value.issuedAt, spiffeId: value.spiffeId, serial: value.serial };
    }
  } catch {
    // a damaged meta file only costs the exact issue time; NotBefore stands in
  }
  return undefined;
}
