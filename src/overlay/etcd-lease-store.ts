/**
 * The subnet this VM last held, persisted in stateDir so a restart (or an expired lease) asks for
 * the same subnet again, like flanneld re-reading subnet.env. Written atomically.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCidr } from '../config/net-types.js';

export const LEASE_STATE_FILE = 'etcd-lease.json';

export async function readPersistedSubnet(stateDir: string): Promise<string> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, LEASE_STATE_FILE), 'utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && 'subnet' in parsed && typeof parsed.subnet === 'string' && parseCidr(parsed.subnet)?.family === 4) {
      return parsed.subnet;
    }
  } catch {
    // Absent or unreadable: no preference, acquire a free subnet.
  }
  return '';
}

export async function persistSubnet(stateDir: string, subnet: string, key: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  const path = join(stateDir, LEASE_STATE_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ subnet, key, at: new Date().toISOString() })}\n`, { mode: 0o644 });
  await rename(tmp, path);
}
