/**
 * Loader for the native batched UDP addon (native/udp-batch): recvmmsg/sendmmsg with one JS call
 * per batch instead of dgram's one per datagram. It is optional: when the .node file is missing,
 * fails to load, exports another memory layout than this code's (udp-batch-layout.ts), or
 * MNA_DNS_UDP=dgram forces it off, the listener uses node:dgram and `reason` says why.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeClock } from './clock.js';
import { layoutMismatch, type UdpBatchLayout } from './udp-batch-layout.js';

export const ADDON_FILE = 'udp_batch.node';

/** One socket. The ArrayBuffers are shared with the addon (layout: udp-batch-layout.ts). */
export interface UdpBatchHandle {
  /** `slots` datagram payloads of `slotSize` bytes: received queries. */
  readonly input: ArrayBuffer;
  /** Per slot, `metaSize` bytes as u32 words (udp-batch-layout.ts meta*): length, flags, sockaddr length, memo word, sockaddr. */
  readonly inputMeta: ArrayBuffer;
  /** Replies to send: same layout as input / inputMeta. */
  readonly output: ArrayBuffer;
  readonly outputMeta: ArrayBuffer;
  readonly slots: number;
  readonly slotSize: number;
  readonly metaSize: number;
  /** The bound port (the requested one unless that was 0). */
  readonly port: number;
}

export interface UdpBatchCounters {
  received: number;
  batches: number;
  truncated: number;
  sendDropped: number;
  recvErrors: number;
}

/**
 * Every function checks its arguments: a handle not made by open() (a type-tagged object) or a value of
 * the wrong type is a TypeError, a number out of range or an address of the wrong size a RangeError,
 * and send, sendTo or enableMemo on a closed handle an Error with code ERR_SOCKET_DGRAM_NOT_RUNNING.
 */
export interface UdpBatchAddon extends NativeClock {
  /** The addon's memory layout; the loader refuses an addon whose layout is not udp-batch-layout.ts's. */
  readonly layout: UdpBatchLayout;
  /** Binds host:port (IP literal); throws an Error with `code` (EADDRINUSE, EACCES...) like dgram. */
  open(host: string, port: number, bufferBytes: number, onBatch: (count: number) => void): UdpBatchHandle;
  /** Sends output slots 0..count-1; returns how many went out (the rest were dropped, UDP-style). */
  send(handle: UdpBatchHandle, count: number): number;
  /** Sends one datagram to `address`: a copy of a slot's meta bytes from metaAddrLength * 4 to its end. */
  sendTo(handle: UdpBatchHandle, payload: Uint8Array, address: Uint8Array): boolean;
  /** Closes the fd now (the port is free on return; twice is harmless); memory goes once the handle is unreachable. */
  close(handle: UdpBatchHandle): void;
  counters(handle: UdpBatchHandle): UdpBatchCounters;
  /**
   * Turns on the reply memo for this socket: a reply marked in output word [3] is kept, and repeats
   * of its exact query bytes are answered before JS sees them, while `epoch[0]` is unchanged (and, for
   * cache hits, until their entry expires, with the TTLs counted down at the offsets JS wrote to `ttls`,
   * MEMO_TTL_WORDS u16 per output slot: cache.ts getInto). `stats` has the stats* layout. The addon
   * holds `epoch`, `stats` and `ttls` until the socket's handle has closed.
   */
  enableMemo(handle: UdpBatchHandle, epoch: Uint32Array, latencyBoundsMicros: Float64Array): { stats: ArrayBuffer; ttls: ArrayBuffer };
}

export type UdpBatchLoad = { addon: UdpBatchAddon; path: string } | { addon: undefined; reason: string };

/**
 * Where the .node may be: beside the bundle (dist/, as packaged), or the build dir (source runs).
 * MNA_UDP_BATCH_ADDON names the only file to try instead: for tests, which load the sanitized build
 * (scripts/test-native-sanitized.sh) this way.
 */
export function addonCandidates(moduleDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const forced = env['MNA_UDP_BATCH_ADDON'];
  if (forced !== undefined && forced !== '') return [forced];
  return [join(moduleDir, ADDON_FILE), join(moduleDir, '..', '..', 'native', 'udp-batch', 'build', 'Release', ADDON_FILE)];
}

const FUNCTIONS = ['open', 'send', 'sendTo', 'close', 'counters', 'clockMicros', 'clockSeconds', 'enableMemo'] as const;

/** The addon, if `exports` (what `path` exported) is one this code can use; else why not. */
export function checkAddon(exports: unknown, path: string): UdpBatchLoad {
  if (typeof exports !== 'object' || exports === null) return { addon: undefined, reason: `${path} is not the udp-batch addon (no exports)` };
  const fns = exports as Record<string, unknown>;
  const missing = FUNCTIONS.filter((name) => typeof fns[name] !== 'function');
  if (missing.length > 0) return { addon: undefined, reason: `${path} is not the udp-batch addon (missing ${missing.join(', ')})` };
  const mismatch = layoutMismatch(fns['layout']);
  if (mismatch !== undefined) return { addon: undefined, reason: `${path}: ${mismatch}; rebuild it (npm run build:native)` };
  return { addon: exports as UdpBatchAddon, path };
}

export function loadUdpBatchFrom(candidates: readonly string[], env: NodeJS.ProcessEnv = process.env): UdpBatchLoad {
  const mode = env['MNA_DNS_UDP'];
  if (mode === 'dgram') return { addon: undefined, reason: 'MNA_DNS_UDP=dgram' };
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) return { addon: undefined, reason: `${ADDON_FILE} not found (looked in ${candidates.join(', ')})` };
  const mod: { exports: unknown } = { exports: {} };
  try {
    process.dlopen(mod, path);
  } catch (err) {
    return { addon: undefined, reason: `${path} failed to load: ${err instanceof Error ? err.message : String(err)}` };
  }
  return checkAddon(mod.exports, path);
}

let loaded: UdpBatchLoad | undefined;

/** The addon for this process (loaded once). */
export function loadUdpBatch(): UdpBatchLoad {
  loaded ??= loadUdpBatchFrom(addonCandidates(dirname(fileURLToPath(import.meta.url))));
  return loaded;
}
