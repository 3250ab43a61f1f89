/**
 * What the Kubernetes registry keeps in stateDir: this VM's owner identity (written into its Node,
 * so the agent recognises the Node as its own and never another host's), and the podCIDR its Node
 * last held (to come up with it while the API is unreachable). Files are replaced durably
 * (host/durable-file.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, ErrorCode } from '../../errors.js';
import { writeFileDurably } from '../../host/durable-file.js';
import { parseCidr } from '../../net/cidr.js';

const OWNER_FILE = 'kube-node-owner';
const NODE_FILE = 'kube-node.json';
const OWNER_RE = /^[a-z0-9][a-z0-9.-]{7,62}$/;

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeAtomic(stateDir: string, name: string, text: string): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  await writeFileDurably(join(stateDir, name), text, { mode: 0o600, owner: 'agent' });
}

/** This VM's identity: random, made once, kept in stateDir. */
export async function loadOrCreateOwner(stateDir: string): Promise<string> {
  const path = join(stateDir, OWNER_FILE);
  const text = (await readText(path))?.trim();
  if (text !== undefined) {
    if (OWNER_RE.test(text)) return text;
    throw new AgentError(ErrorCode.ConfigInvalid, `${path}: not an owner identity; restore it from a backup, or delete it and delete this VM's Node by hand (a new identity cannot claim the old Node)`);
  }
  const owner = `mna-${randomBytes(12).toString('hex')}`;
  await writeAtomic(stateDir, OWNER_FILE, `${owner}\n`);
  return owner;
}

/** This VM's identity if it has one (it registered a Node once), else undefined. Never creates it. */
export async function readOwner(stateDir: string): Promise<string | undefined> {
  const text = (await readText(join(stateDir, OWNER_FILE)))?.trim();
  return text !== undefined && OWNER_RE.test(text) ? text : undefined;
}

/** Forgets the podCIDR held (after leaving). */
export async function clearHeldPodCIDR(stateDir: string): Promise<void> {
  await rm(join(stateDir, NODE_FILE), { force: true });
}

/** The podCIDR our Node `node` held on the last run, or ''. */
export async function readHeldPodCIDR(stateDir: string, node: string): Promise<string> {
  const text = await readText(join(stateDir, NODE_FILE));
  if (text === undefined) return '';
  try {
    const parsed = JSON.parse(text) as { node?: unknown; podCIDR?: unknown };
    if (parsed.node !== node || typeof parsed.podCIDR !== 'string' || parseCidr(parsed.podCIDR)?.family !== 4) return '';
    return parsed.podCIDR;
  } catch {
    return '';
  }
}

export async function writeHeldPodCIDR(stateDir: string, node: string, podCIDR: string): Promise<void> {
  await writeAtomic(stateDir, NODE_FILE, `${JSON.stringify({ node, podCIDR })}\n`);
}
