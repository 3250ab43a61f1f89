/**
 * The installed identity in identity.certDir, crash-consistent at every instant.
 *
 * key.pem and cert-chain.pem are symlinks into `..data/`, and `..data` is a symlink to a complete,
 * fsynced generation directory `..gen-<id>/` (the layout Kubernetes uses for secret volumes).
 * Installing writes a new generation, then renames a fresh `..data` link over the old one: the
 * single atomic switch of both files. A kill at any moment leaves either the old pair or the new
 * pair visible, never one of each. root-cert.pem is a plain file replaced by temp file + rename.
 *
 * repair() (run on start and before each install) removes half-written generations and temp
 * files, and converts plain key.pem/cert-chain.pem files (provisioned by hand, or a torn pair from
 * another tool) into the layout by snapshotting what is visible, so the conversion itself never
 * changes what readers see.
 */
import { randomBytes } from 'node:crypto';
import { lchown, lstat, mkdir, readFile, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, fsyncDir, writeNewFile, type Owner } from './durable-fs.js';

export const KEY_FILE = 'key.pem';
export const CHAIN_FILE = 'cert-chain.pem';
export const ROOT_FILE = 'root-cert.pem';
export const META_FILE = 'meta.json';
export const DATA_LINK = '..data';
const GEN_PREFIX = '..gen-';
const PAIR = [KEY_FILE, CHAIN_FILE] as const;

export interface GenerationMeta {
  /** Local time the certificate was received; rotation timing runs from here. */
  issuedAt: number;
  spiffeId: string;
  serial: string;
}

export interface StoredFiles {
  keyPem?: string;
  chainPem?: string;
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

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

type Entry = 'link' | 'file' | 'absent';

export class CertStore {
  constructor(
    readonly dir: string,
    private readonly owner: () => Owner | undefined = () => undefined,
  ) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  async read(): Promise<StoredFiles> {
    const [keyPem, chainPem, rootPem, metaText] = await Promise.all([
      readOptional(this.path(KEY_FILE)),
      readOptional(this.path(CHAIN_FILE)),
      readOptional(this.path(ROOT_FILE)),
      readOptional(join(this.dir, DATA_LINK, META_FILE)),
    ]);
    return { keyPem, chainPem, rootPem, meta: parseMeta(metaText) };
  }

  /** Brings the directory into the layout; returns what it had to fix (for the log). */
  async repair(): Promise<string[]> {
    const notes: string[] = [];
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    const names = await readdir(this.dir);
    for (const name of names) {
      if ((name.startsWith(GEN_PREFIX) && name.endsWith('.tmp')) || /\.tmp-[0-9a-f]{8}$/.test(name)) {
        await rm(this.path(name), { recursive: true, force: true });
        notes.push(`removed unfinished ${name}`);
      }
    }
    const kinds = await Promise.all(PAIR.map((name) => this.entry(name)));
    if (kinds.includes('file')) {
      // Plain files: snapshot exactly what is visible into a generation, switch to it, then replace
      // each plain file with its link. Both files show the same bytes throughout.
      const [keyPem, chainPem] = await Promise.all(PAIR.map((name) => readOptional(this.path(name))));
      const generation = await this.writeGeneration({ keyPem, chainPem, meta: undefined });
      await this.switchData(generation);
      notes.push(`adopted plain ${PAIR.filter((_, i) => kinds[i] === 'file').join(' and ')} into ${generation}`);
    }
    for (const name of PAIR) {
      if ((await this.entry(name)) !== 'link') await this.replaceWithLink(name);
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
      await atomicWriteFile(this.path(ROOT_FILE), input.rootPem, 0o644, this.owner());
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

  private async entry(name: string): Promise<Entry> {
    try {
      const stat = await lstat(this.path(name));
      if (stat.isSymbolicLink() && (await readlink(this.path(name))) === `${DATA_LINK}/${name}`) return 'link';
      return 'file';
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 'absent';
      throw err;
    }
  }

  private async writeGeneration(files: { keyPem?: string; chainPem?: string; meta: GenerationMeta | undefined }): Promise<string> {
    const owner = this.owner();
    const name = `${GEN_PREFIX}${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const temp = this.path(`${name}.tmp`);
    // The generation directory stays root's: under systemd the agent has CAP_CHOWN but no
    // CAP_DAC_OVERRIDE, so it could neither write into nor prune a directory owned by the proxy.
    await mkdir(temp, { mode: 0o755 });
    if (files.keyPem !== undefined) {
      // With an owner the key is owner:root 0640: the proxy reads it as owner and the agent, for
      // its own renewals after a restart, through group root (no CAP_DAC_READ_SEARCH either).
      const keyOwner = owner === undefined ? undefined : { uid: owner.uid, gid: 0 };
      await writeNewFile(join(temp, KEY_FILE), files.keyPem, owner === undefined ? 0o600 : 0o640, keyOwner);
    }
    if (files.chainPem !== undefined) await writeNewFile(join(temp, CHAIN_FILE), files.chainPem, 0o644, owner);
    if (files.meta !== undefined) await writeNewFile(join(temp, META_FILE), `${JSON.stringify(files.meta)}\n`, 0o644, owner);
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

  private async atomicSymlink(target: string, name: string): Promise<void> {
    const temp = this.path(`.${name.replace(/^\.+/, '')}.tmp-${randomBytes(4).toString('hex')}`);
    await symlink(target, temp);
    const owner = this.owner();
    if (owner !== undefined) await lchown(temp, owner.uid, owner.gid);
    await rename(temp, this.path(name));
  }

  private async removeStaleGenerations(): Promise<string[]> {
    let current: string | undefined;
    try {
      current = await readlink(this.path(DATA_LINK));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    const stale = (await readdir(this.dir)).filter((name) => name.startsWith(GEN_PREFIX) && !name.endsWith('.tmp') && name !== current);
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
