/**
 * Everything the overlay controller asks of the kernel, as one interface injected at its boundary:
 * the real one speaks rtnetlink (netlink-kernel.ts); unit tests hand the controller an in-memory
 * kernel, so start, reload, drift and error paths are tested without root. Only the namespace tests
 * need the real thing.
 */
import type { Address } from '../netlink/addresses.js';
import type { KernelEvent } from '../netlink/event-types.js';
import type { Link } from '../netlink/links.js';
import type { Device, FdbEntry, Neighbour } from '../netlink/neighbours.js';
import type { Route } from '../netlink/routes.js';
import type { Op } from './plan.js';
import type { DeviceSpec, EnsureResult } from './vxlan-device.js';

/** The kernel's answer to one write, e.g. errno "EEXIST" and a message naming the object. */
export interface WriteError {
  errno: string;
  message: string;
}

/** Kernel change notifications (a child process in the real kernel, see netlink/events.ts). */
export interface KernelEvents {
  on(event: 'event', listener: (e: KernelEvent) => void): unknown;
  /** The monitor died; it restarts by itself and says 'ready' again (events may have been lost). */
  on(event: 'lost', listener: (why: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  /** False when the monitor cannot run at all (then only the periodic resync finds drift). */
  start(): boolean;
  /** Resolves true on the next 'ready', false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean>;
  /** Stops (or resumes) notifications of added neighbours and routes while we write thousands. */
  mute(on: boolean): void;
  stop(): void;
  readonly running: boolean;
  readonly restarts: number;
}

export interface OverlayKernel {
  /** Before any other call (the real kernel opens its sockets). */
  open(): void;
  /** Releases what open() took; open() may follow again. */
  close(): void;
  listLinks(): Promise<Link[]>;
  listAddresses(): Promise<Address[]>;
  /** The main table. */
  listRoutes(): Promise<Route[]>;
  /** Creates the VXLAN device, or repairs or re-creates it to match `spec`. */
  ensureDevice(spec: DeviceSpec): Promise<EnsureResult>;
  deleteLink(link: Device): Promise<void>;
  listNeighbours(dev: Device): Promise<Neighbour[]>;
  listFdb(dev: Device): Promise<FdbEntry[]>;
  /** Sends the writes in order; resolves with one error (or undefined) per op, never rejects for one op. */
  write(dev: Device, ops: readonly Op[]): Promise<(WriteError | undefined)[]>;
  /** A new, not yet started event monitor. */
  events(): KernelEvents;
}
