/** The overlay's kernel as it really is: rtnetlink through one RtSocket, and the event monitor child. */
import { AgentError, ErrorCode } from '../errors.js';
import { listAddresses } from '../netlink/addresses.js';
import { NetlinkEvents } from '../netlink/events.js';
import { deleteLink, listLinks, type Link } from '../netlink/links.js';
import { fdbDelete, fdbSet, listFdb, listNeighbours, neighbourDelete, neighbourSet, type Device, type FdbEntry, type Neighbour } from '../netlink/neighbours.js';
import { listRoutes, routeDelete, routeReplace, type Route } from '../netlink/routes.js';
import { RtSocket, type NetlinkError, type WriteRequest } from '../netlink/socket.js';
import type { KernelEvents, OverlayKernel } from './kernel.js';
import type { Op } from './plan.js';
import { ensureDevice, type DeviceSpec, type EnsureResult } from './vxlan-device.js';

export function toRequest(dev: Device, op: Op): WriteRequest {
  switch (op.type) {
    case 'neigh-set':
      return neighbourSet(dev, op);
    case 'neigh-del':
      return neighbourDelete(dev, op);
    case 'fdb-set':
      return fdbSet(dev, op);
    case 'fdb-del':
      return fdbDelete(dev, op);
    case 'route-set':
      return routeReplace(dev, op);
    case 'route-del':
      return routeDelete(dev, op);
  }
}

export class NetlinkKernel implements OverlayKernel {
  private sock: RtSocket | undefined;

  open(): void {
    this.sock ??= new RtSocket();
  }

  close(): void {
    this.sock?.close();
    this.sock = undefined;
  }

  listLinks(): Promise<Link[]> {
    return listLinks(this.socket());
  }

  listAddresses(): ReturnType<OverlayKernel['listAddresses']> {
    return listAddresses(this.socket());
  }

  listRoutes(): Promise<Route[]> {
    return listRoutes(this.socket());
  }

  ensureDevice(spec: DeviceSpec): Promise<EnsureResult> {
    return ensureDevice(this.socket(), spec);
  }

  deleteLink(link: Device): Promise<void> {
    return deleteLink(this.socket(), link);
  }

  listNeighbours(dev: Device): Promise<Neighbour[]> {
    return listNeighbours(this.socket(), dev);
  }

  listFdb(dev: Device): Promise<FdbEntry[]> {
    return listFdb(this.socket(), dev);
  }

  /** Each request is encoded only when its chunk goes out (a resync never holds thousands at once). */
  write(dev: Device, ops: readonly Op[]): Promise<(NetlinkError | undefined)[]> {
    return this.socket().batchOf(ops.length, (i) => toRequest(dev, ops[i] as Op));
  }

  events(): KernelEvents {
    return new NetlinkEvents();
  }

  private socket(): RtSocket {
    if (this.sock === undefined) throw new AgentError(ErrorCode.Internal, 'overlay kernel is not open (controller not started)');
    return this.sock;
  }
}
