/**
 * The last peer set a remote source delivered (and the network it came with), kept in stateDir
 * so that a start while the registry is unreachable programs what the VM had, instead of an
 * empty registry. Written atomically; read strictly (a file that does not have the expected
 * shape is ignored), and what it holds goes through the peer gate like any other input.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../host/durable-file.js';
import type { NetworkBounds, Peer } from '../registry/peer-source.js';

export interface LastPeers {
  network?: NetworkBounds;
  peers: Peer[];
}

/** Far above any real registry: a larger file is not ours. */
const MAX_BYTES = 32 * 1024 * 1024;

export function lastPeersPath(stateDir: string, source: string): string {
  return join(stateDir, `peers.${source.replace(/[^a-z0-9-]/gi, '_')}.json`);
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length <= 256;

function readPeer(v: unknown, source: string): Peer | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (!str(r.subnet) || !str(r.publicIP) || !str(r.vtepMAC) || !str(r.key)) return undefined;
  if (typeof r.order !== 'number' || !Number.isSafeInteger(r.order)) return undefined;
  return { subnet: r.subnet, publicIP: r.publicIP, vtepMAC: r.vtepMAC, key: r.key, order: r.order, source, ...(str(r.revision) ? { revision: r.revision } : {}) };
}

function readNetwork(v: unknown): NetworkBounds | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (!str(r.network)) return undefined;
  return {
    network: r.network,
    ...(typeof r.subnetLen === 'number' && Number.isInteger(r.subnetLen) ? { subnetLen: r.subnetLen } : {}),
    ...(str(r.subnetMin) ? { subnetMin: r.subnetMin } : {}),
    ...(str(r.subnetMax) ? { subnetMax: r.subnetMax } : {}),
  };
}

/** The persisted set, or undefined when there is none (or it is unreadable: `onProblem` says why). */
export async function readLastPeers(stateDir: string, source: string, onProblem?: (why: string) => void): Promise<LastPeers | undefined> {
  let text: string;
  try {
    text = await readFile(lastPeersPath(stateDir, source), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onProblem?.(`cannot read: ${(err as Error).message}`);
    return undefined;
  }
  if (text.length > MAX_BYTES) {
    onProblem?.('larger than any peer set; ignored');
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    onProblem?.('not JSON; ignored');
    return undefined;
  }
  const r = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  if (r.version !== 1 || r.source !== source || !Array.isArray(r.peers)) {
    onProblem?.('not a peer set of this source; ignored');
    return undefined;
  }
  const peers = r.peers.map((p) => readPeer(p, source));
  if (peers.some((p) => p === undefined)) {
    onProblem?.('malformed entries; ignored');
    return undefined;
  }
  const network = readNetwork(r.network);
  return { peers: peers as Peer[], ...(network === undefined ? {} : { network }) };
}

export async function writeLastPeers(stateDir: string, source: string, set: LastPeers): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  const path = lastPeersPath(stateDir, source);
  const peers = set.peers.map((p) => ({ key: p.key ?? `${source}:${p.subnet}`, subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC, order: p.order ?? 0, ...(p.revision === undefined ? {} : { revision: p.revision }) }));
  await writeFileDurably(path, `${JSON.stringify({ version: 1, source, savedAt: new Date().toISOString(), network: set.network ?? null, peers })}\n`, { mode: 0o600, owner: 'agent' });
}
