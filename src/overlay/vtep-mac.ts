/**
 * The VTEP MAC: generated once (random, locally administered, unicast, like flannel) and kept in
 * stateDir, so a reboot or a re-created device keeps the MAC the cluster already knows
 * (flannel issues #1155, #1795).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMac } from '../net/address.js';
import { AgentError, ErrorCode } from '../errors.js';
import { writeFileDurably } from '../host/durable-file.js';

export function generateMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function macPath(stateDir: string, device: string): string {
  return join(stateDir, `vtep-mac.${device}`);
}

/** The stored MAC; else `adopt` (an existing device's, so a first run keeps it); else a new one. */
export async function loadOrCreateMac(stateDir: string, device: string, adopt?: string): Promise<{ mac: string; created: boolean }> {
  const path = macPath(stateDir, device);
  let text: string | undefined;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    if (isMac(text)) return { mac: text.toLowerCase(), created: false };
    throw new AgentError(ErrorCode.ConfigInvalid, `${path}: "${text}" is not a MAC address; fix or delete the file (a new MAC must then be announced to the cluster)`);
  }
  const mac = adopt !== undefined && isMac(adopt) && adopt !== '00:00:00:00:00:00' ? adopt : generateMac();
  await mkdir(stateDir, { recursive: true });
  await writeFileDurably(path, `${mac}\n`, { mode: 0o644, owner: 'agent' });
  return { mac, created: true };
}
