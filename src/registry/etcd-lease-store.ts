/**
 * The lease this VM last held, persisted in stateDir: its subnet, so a restart (or an expired
 * lease) asks for the same subnet again, like flanneld re-reading subnet.env; and its etcd lease
 * ID, so a restart keeps that etcd lease (or revokes it) instead of leaving it behind for 24 h.
 * Written atomically.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../host/durable-file.js';
import { parseCidr } from '../net/cidr.js';

export const LEASE_STATE_FILE = 'etcd-lease.json';

export interface PersistedLease {
  /** '' when none. */
  subnet: string;
  /** The etcd lease ID (decimal), '' when none. */
  leaseId: string;
}

export async function readPersistedLease(stateDir: string): Promise<PersistedLease> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, LEASE_STATE_FILE), 'utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && 'subnet' in parsed && typeof parsed.subnet === 'string' && parseCidr(parsed.subnet)?.family === 4) {
      const leaseId = 'leaseId' in parsed && typeof parsed.leaseId === 'string' && /^[1-9]\d{0,19}$/.test(parsed.leaseId) ? parsed.leaseId : '';
      return { subnet: parsed.subnet, leaseId };
    }
  } catch {
    // Absent or unreadable: no preference, acquire a free subnet.
  }
  return { subnet: '', leaseId: '' };
}

export async function readPersistedSubnet(stateDir: string): Promise<string> {
  return (await readPersistedLease(stateDir)).subnet;
}

export async function persistLease(stateDir: string, subnet: string, key: string, leaseId: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  const path = join(stateDir, LEASE_STATE_FILE);
  await writeFileDurably(path, `${JSON.stringify({ subnet, key, leaseId, at: new Date().toISOString() })}\n`, { mode: 0o644, owner: 'agent' });
}
