/**
 * An in-memory kernel for the overlay controller's unit tests (the OverlayKernel interface): links,
 * addresses, the main table, and the device's neighbours, FDB entries and routes, changed by the
 * controller's writes and by the test (`tamper`), which also notifies the event monitors the way
 * the real kernel would. Faults are provoked on purpose: a write the kernel refuses, a dump that fails.
 */
import { EventEmitter } from 'node:events';
import type { Address } from '../../src/netlink/addresses.js';
import type { KernelEvent } from '../../src/netlink/event-types.js';
import type { Link } from '../../src/netlink/links.js';
import type { Device, FdbEntry, Neighbour } from '../../src/netlink/neighbours.js';
import type { Route } from '../../src/netlink/routes.js';
import type { KernelEvents, OverlayKernel, WriteError } from '../../src/overlay/kernel.js';
import type { Op } from '../../src/overlay/plan.js';
import { judgeDevice, type DeviceSpec, type EnsureResult } from '../../src/overlay/vxlan-device.js';

const AF_INET = 2;
const AF_BRIDGE = 7;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;

export class FakeEvents extends EventEmitter implements KernelEvents {
  running = false;
  restarts = 0;
  muted = false;
  start(): boolean {
    this.running = true;
    // Subscribed at once (the real monitor says so a moment later; the controller waits for it).
    this.emit('ready');
    return true;
  }
  waitReady(): Promise<boolean> {
    return Promise.resolve(true);
  }
  mute(on: boolean): void {
    this.muted = on;
  }
  stop(): void {
    this.running = false;
  }
}

export class FakeKernel implements OverlayKernel {
  open_ = false;
  opens = 0;
  links: Link[] = [
    { index: 1, name: 'lo', mtu: 65536, up: true },
    { index: 2, name: 'eth0', mtu: 1500, up: true, mac: '52:54:00:00:00:02' },
  ];
  addresses: Address[] = [
    { index: 1, address: '127.0.0.1', prefix: 8 },
    { index: 2, address: '192.168.0.81', prefix: 24 },
  ];
  /** The main table besides the device's routes. */
  routes: Route[] = [
    { dst: '0.0.0.0/0', oif: 2, gateway: '192.168.0.1', onlink: false, protocol: RTPROT_BOOT, table: RT_TABLE_MAIN, kernel: false },
    { dst: '192.168.0.0/24', oif: 2, onlink: false, protocol: 2, table: RT_TABLE_MAIN, kernel: true },
  ];
  neighbours = new Map<string, Neighbour>();
  fdb = new Map<string, FdbEntry>();
  devRoutes = new Map<string, Route>();
  /** Every write the controller sent, in order. */
  writes: Op[] = [];
  /** Kernel answers to provoke: return an errno to refuse an op. */
  refuse: ((op: Op) => string | undefined) | undefined;
  /** The next dumps of the device's tables fail with this error (then it is cleared). */
  failNextDump: Error | undefined;
  monitors: FakeEvents[] = [];
  private nextIndex = 10;

  open(): void {
    this.open_ = true;
    this.opens += 1;
  }
  close(): void {
    this.open_ = false;
  }

  /** The VXLAN device (by name, or the one there is). */
  device(name?: string): Link | undefined {
    return this.links.find((l) => (name === undefined ? l.kind === 'vxlan' : l.name === name));
  }

  listLinks(): Promise<Link[]> {
    this.mustBeOpen();
    return Promise.resolve(this.links.map((l) => ({ ...l })));
  }
  listAddresses(): Promise<Address[]> {
    this.mustBeOpen();
    return Promise.resolve(this.addresses.map((a) => ({ ...a })));
  }
  listRoutes(): Promise<Route[]> {
    this.mustBeOpen();
    const dev = this.device();
    const ours = dev === undefined ? [] : [...this.devRoutes.values()].map((r) => ({ ...r, oif: dev.index }));
    return Promise.resolve([...this.routes.map((r) => ({ ...r })), ...ours]);
  }

  ensureDevice(spec: DeviceSpec): Promise<EnsureResult> {
    this.mustBeOpen();
    const actions: string[] = [];
    let link = this.device(spec.name);
    const verdict = judgeDevice(spec, link);
    if (verdict.action === 'recreate' && link !== undefined) {
      this.removeLink(link);
      actions.push(`recreated (${verdict.why})`);
      link = undefined;
    }
    if (link === undefined) {
      link = { index: this.nextIndex++, name: spec.name, mtu: spec.mtu, mac: spec.mac, up: true, kind: 'vxlan', vxlan: { vni: spec.vni, link: spec.underlayIndex, local: spec.local, port: spec.port, learning: false } };
      this.links.push(link);
      if (verdict.action === 'create') actions.push('created');
    }
    const index = link.index;
    if (!this.addresses.some((a) => a.index === index && a.address === spec.vtep && a.prefix === 32)) {
      this.addresses = this.addresses.filter((a) => a.index !== index);
      this.addresses.push({ index, address: spec.vtep, prefix: 32 });
      actions.push(`address ${spec.vtep}/32`);
    }
    const after = judgeDevice(spec, link);
    if (after.action === 'fix') {
      Object.assign(link, after.change);
      actions.push(`set ${Object.keys(after.change).join(', ')}`);
    }
    return Promise.resolve({ link: { ...link }, actions });
  }

  deleteLink(link: Device): Promise<void> {
    this.mustBeOpen();
    const found = this.links.find((l) => l.index === link.index);
    if (found !== undefined) this.removeLink(found);
    return Promise.resolve();
  }

  listNeighbours(dev: Device): Promise<Neighbour[]> {
    this.mustBeOpen();
    this.dumpFault();
    return Promise.resolve(this.device()?.index === dev.index ? [...this.neighbours.values()].map((n) => ({ ...n })) : []);
  }
  listFdb(dev: Device): Promise<FdbEntry[]> {
    this.mustBeOpen();
    return Promise.resolve(this.device()?.index === dev.index ? [...this.fdb.values()].map((e) => ({ ...e })) : []);
  }

  write(dev: Device, ops: readonly Op[]): Promise<(WriteError | undefined)[]> {
    this.mustBeOpen();
    return Promise.resolve(
      ops.map((op) => {
        this.writes.push(op);
        if (this.device()?.index !== dev.index) return { errno: 'ENODEV', message: `${op.type}: ENODEV` };
        const errno = this.refuse?.(op);
        if (errno !== undefined) return { errno, message: `${op.type} ${JSON.stringify(op)}: ${errno}` };
        return this.applyOp(op);
      }),
    );
  }

  events(): KernelEvents {
    const events = new FakeEvents();
    this.monitors.push(events);
    return events;
  }

  /** A change someone else makes on the host, with its notification to every running monitor. */
  tamper(change: { neighbour?: Neighbour; deleteNeighbour?: string; deleteFdb?: string; deleteRoute?: string; route?: Route; deleteDevice?: boolean }, notify = true): void {
    const dev = this.device();
    if (dev === undefined) throw new Error('no device to tamper with');
    const events: KernelEvent[] = [];
    if (change.neighbour !== undefined) {
      this.neighbours.set(change.neighbour.ip, change.neighbour);
      events.push({ kind: 'neigh', op: 'new', family: AF_INET, index: dev.index, ip: change.neighbour.ip, ...(change.neighbour.mac === undefined ? {} : { mac: change.neighbour.mac }), permanent: change.neighbour.permanent });
    }
    if (change.deleteNeighbour !== undefined) {
      const n = this.neighbours.get(change.deleteNeighbour);
      this.neighbours.delete(change.deleteNeighbour);
      events.push({ kind: 'neigh', op: 'del', family: AF_INET, index: dev.index, ip: change.deleteNeighbour, ...(n?.mac === undefined ? {} : { mac: n.mac }), permanent: true });
    }
    if (change.deleteFdb !== undefined) {
      this.fdb.delete(change.deleteFdb);
      events.push({ kind: 'neigh', op: 'del', family: AF_BRIDGE, index: dev.index, mac: change.deleteFdb, permanent: true });
    }
    if (change.deleteRoute !== undefined) {
      this.devRoutes.delete(change.deleteRoute);
      events.push({ kind: 'route', op: 'del', dst: change.deleteRoute, oif: dev.index, table: RT_TABLE_MAIN });
    }
    if (change.route !== undefined) {
      this.devRoutes.set(change.route.dst, change.route);
      events.push({ kind: 'route', op: 'new', dst: change.route.dst, oif: dev.index, table: RT_TABLE_MAIN });
    }
    if (change.deleteDevice === true) {
      this.removeLink(dev);
      events.push({ kind: 'link', op: 'del', index: dev.index, name: dev.name });
    }
    if (notify) for (const m of this.monitors) if (m.running) for (const e of events) m.emit('event', e);
  }

  private applyOp(op: Op): WriteError | undefined {
    switch (op.type) {
      case 'neigh-set':
        this.neighbours.set(op.ip, { ip: op.ip, mac: op.mac, permanent: true });
        return undefined;
      case 'neigh-del':
        return this.neighbours.delete(op.ip) ? undefined : { errno: 'ENOENT', message: `neigh ${op.ip}: ENOENT` };
      case 'fdb-set':
        this.fdb.set(op.mac, { mac: op.mac, dst: op.dst, permanent: true });
        return undefined;
      case 'fdb-del':
        return this.fdb.delete(op.mac) ? undefined : { errno: 'ENOENT', message: `fdb ${op.mac}: ENOENT` };
      case 'route-set':
        this.devRoutes.set(op.dst, { dst: op.dst, gateway: op.gateway, onlink: true, protocol: RTPROT_BOOT, table: RT_TABLE_MAIN, kernel: false });
        return undefined;
      case 'route-del':
        return this.devRoutes.delete(op.dst) ? undefined : { errno: 'ESRCH', message: `route ${op.dst}: ESRCH` };
    }
  }

  private removeLink(link: Link): void {
    this.links = this.links.filter((l) => l.index !== link.index);
    this.addresses = this.addresses.filter((a) => a.index !== link.index);
    if (link.kind === 'vxlan') {
      this.neighbours.clear();
      this.fdb.clear();
      this.devRoutes.clear();
    }
  }

  private dumpFault(): void {
    const err = this.failNextDump;
    if (err === undefined) return;
    this.failNextDump = undefined;
    throw err;
  }

  private mustBeOpen(): void {
    if (!this.open_) throw new Error('fake kernel used while closed');
  }
}
