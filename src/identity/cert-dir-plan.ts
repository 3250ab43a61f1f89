/**
 * What the agent accepts in identity.certDir. Pure: judges the directory and each entry from lstat
 * facts; cert-dir-secure.ts and cert-store.ts act on the verdicts.
 *
 * The proxy user may have had write access to certDir (Istio's VM guide chowns /etc/certs to
 * istio-proxy), so anything in it may have been planted. The agent reads only what it can tell is
 * its own: links by name and exact target, generations by name, type and root ownership, and
 * root-cert.pem only when root wrote it. Anything else under a name the agent manages is moved
 * aside (never read, never deleted: a directory the proxy owns cannot be emptied safely).
 */
import { modeText, writableByOthers, type FileFacts } from '../safe-file/policy.js';

export const KEY_FILE = 'key.pem';
export const CHAIN_FILE = 'cert-chain.pem';
export const ROOT_FILE = 'root-cert.pem';
export const META_FILE = 'meta.json';
export const DATA_LINK = '..data';
export const GEN_PREFIX = '..gen-';
export const FOREIGN_PREFIX = '..foreign-';
export const PAIR = [KEY_FILE, CHAIN_FILE] as const;

/** `..gen-<base36 time>-<6 hex>`: the only generation names the agent makes. */
const GEN_NAME = /^\.\.gen-[0-9a-z]+-[0-9a-f]{6}$/;
const GEN_TEMP = /^\.\.gen-[0-9a-z]+-[0-9a-f]{6}\.tmp$/;
const TEMP_NAME = /^\.[^/]*\.tmp-[0-9a-f]{8}$/;

export type EntryFacts = FileFacts & { target?: string };

export type EntryVerdict =
  | { name: string; action: 'keep' }
  | { name: string; action: 'adopt' }
  | { name: string; action: 'remove' }
  | { name: string; action: 'move-aside'; problem: string }
  | { name: string; action: 'distrust'; problem: string };

export function isGenerationName(name: string): boolean {
  return GEN_NAME.test(name);
}

function describe(facts: EntryFacts): string {
  if (facts.kind === 'link') {
    const target = facts.target ?? '?';
    return `a symbolic link to "${target.length > 120 ? `${target.slice(0, 117)}...` : target}" (uid ${facts.uid})`;
  }
  const kind = facts.kind === 'file' ? 'a file' : facts.kind === 'dir' ? 'a directory' : 'a special file';
  return `${kind} (uid ${facts.uid}, mode ${modeText(facts.mode)}${facts.nlink > 1 && facts.kind === 'file' ? `, ${facts.nlink} hard links` : ''})`;
}

/** A directory only root can change, so everything in it was put there by root. */
function rootDir(facts: EntryFacts, euid: number): boolean {
  return facts.kind === 'dir' && writableByOthers(facts, euid) === undefined;
}

function judgeOne(name: string, facts: EntryFacts, entries: ReadonlyMap<string, EntryFacts>, euid: number): EntryVerdict | undefined {
  const aside = (why: string): EntryVerdict => ({ name, action: 'move-aside', problem: `${describe(facts)}: ${why}` });
  if (name.startsWith(FOREIGN_PREFIX)) return undefined;
  if (GEN_TEMP.test(name) || TEMP_NAME.test(name)) {
    // The agent's own leftovers are root's; a directory among them must be root-only as well.
    const own = facts.kind === 'dir' ? rootDir(facts, euid) : facts.uid === 0 || facts.uid === euid;
    return own ? { name, action: 'remove' } : aside('not left by the agent');
  }
  if (name.startsWith(GEN_PREFIX)) {
    return GEN_NAME.test(name) && rootDir(facts, euid) ? { name, action: 'keep' } : aside('not a generation the agent wrote');
  }
  if (name === DATA_LINK) {
    const target = facts.kind === 'link' ? facts.target : undefined;
    const gen = target === undefined ? undefined : entries.get(target);
    if (target !== undefined && GEN_NAME.test(target) && gen !== undefined && rootDir(gen, euid)) return { name, action: 'keep' };
    return aside('not a link to a generation the agent wrote');
  }
  if (name === KEY_FILE || name === CHAIN_FILE) {
    if (facts.kind === 'link') return facts.target === `${DATA_LINK}/${name}` ? { name, action: 'keep' } : aside(`the agent's link points to ${DATA_LINK}/${name}`);
    // A plain file provisioned by hand is adopted; a hard link could be any file on the host.
    if (facts.kind === 'file' && facts.nlink === 1) return { name, action: 'adopt' };
    return aside('not a file the agent can adopt');
  }
  if (name === ROOT_FILE) {
    if (facts.kind !== 'file' || facts.nlink !== 1) return aside('root-cert.pem is a plain file written by root');
    const problem = writableByOthers(facts, euid);
    return problem === undefined ? { name, action: 'keep' } : { name, action: 'distrust', problem };
  }
  if (name === META_FILE) return aside(`the agent keeps ${META_FILE} inside its generations`);
  return undefined;
}

/** A verdict for every entry under a name the agent manages; other names are left alone and never read. */
export function judgeEntries(entries: ReadonlyMap<string, EntryFacts>, euid: number): EntryVerdict[] {
  const verdicts: EntryVerdict[] = [];
  for (const [name, facts] of entries) {
    const verdict = judgeOne(name, facts, entries, euid);
    if (verdict !== undefined) verdicts.push(verdict);
  }
  return verdicts;
}

export type CertDirPlan =
  | { action: 'ok' }
  | { action: 'create' }
  | { action: 'fix'; chown: boolean; mode: number; problem: string }
  | { action: 'refuse'; problem: string; fix: string };

/**
 * certDir must be a real directory only root can write, inside a directory only root can write
 * (else the proxy could swap the whole directory). A proxy-owned certDir is taken back.
 */
export function planCertDir(path: string, dir: FileFacts | undefined, parent: FileFacts | undefined, parentPath: string, euid: number): CertDirPlan {
  const rootOnly = `chown root ${parentPath} && chmod go-w ${parentPath}, or choose a certDir inside a directory only root can write (default /etc/certs)`;
  if (parent === undefined) return { action: 'refuse', problem: `its directory ${parentPath} does not exist`, fix: `create ${parentPath} (root-owned, mode 0755)` };
  if (parent.kind !== 'dir') return { action: 'refuse', problem: `${parentPath} is not a directory`, fix: rootOnly };
  const parentProblem = writableByOthers(parent, euid);
  if (parentProblem !== undefined) return { action: 'refuse', problem: `its directory ${parentPath} is ${parentProblem}, so another user could replace it`, fix: rootOnly };
  if (dir === undefined) return { action: 'create' };
  if (dir.kind === 'link') return { action: 'refuse', problem: 'is a symbolic link', fix: 'set identity.certDir to the directory itself' };
  if (dir.kind !== 'dir') return { action: 'refuse', problem: 'is not a directory', fix: `move it away; the agent creates ${path}` };
  const problem = writableByOthers(dir, euid);
  if (problem === undefined) return { action: 'ok' };
  if (euid !== 0) return { action: 'refuse', problem, fix: `chown root ${path} && chmod go-w ${path} (the agent is not root and cannot)` };
  return { action: 'fix', chown: dir.uid !== 0, mode: dir.mode & ~0o022, problem };
}
