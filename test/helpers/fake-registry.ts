/**
 * A registry of other hosts for the overlay controller's unit tests (the OverlayRegistry
 * interface, registry/registry.ts): it hands out a subnet, delivers the peers the test sets, and
 * records how the controller drove it. The etcd registry itself is tested against a real etcd.
 */
import type { Readiness } from '../../src/agent/controller.js';
import type { RegistryFactory } from '../../src/registry/create.js';
import type { NetworkBounds, Peer } from '../../src/registry/peer-source.js';
import type { LocalVtep, OverlayRegistry } from '../../src/registry/registry.js';

export class FakeRegistry implements OverlayRegistry {
  readonly name = 'fake';
  readonly remote = true;
  registered: LocalVtep[] = [];
  starts = 0;
  stops = 0;
  closes = 0;
  /** Delivered on start() unless undefined (an unreachable registry delivers nothing). */
  peers: Peer[] | undefined = [];
  subnet = '10.234.3.0/24';
  registerError: Error | undefined;
  reachable = true;
  private onChange: ((peers: readonly Peer[]) => void) | undefined;

  network(): NetworkBounds | undefined {
    return { network: '10.234.0.0/16', subnetLen: 24 };
  }

  register(local: LocalVtep): Promise<string> {
    this.registered.push(local);
    return this.registerError === undefined ? Promise.resolve(this.subnet) : Promise.reject(this.registerError);
  }

  start(onChange: (peers: readonly Peer[]) => void): Promise<void> {
    this.starts += 1;
    this.onChange = onChange;
    if (this.peers !== undefined) onChange(this.peers);
    return Promise.resolve();
  }

  /** A change in the registry: the full new set, as a registry delivers it. */
  deliver(peers: Peer[]): void {
    this.peers = peers;
    this.onChange?.(peers);
  }

  stop(): Promise<void> {
    this.stops += 1;
    this.onChange = undefined;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closes += 1;
    this.onChange = undefined;
    return Promise.resolve();
  }

  status(): Record<string, unknown> {
    return { reachable: this.reachable };
  }

  ready(): Readiness {
    return this.reachable ? { ready: true } : { ready: false, reason: 'registry unreachable' };
  }
}

/** A factory that hands out FakeRegistry instances while `overlay.etcd.endpoints` is set (as the real one does for etcd). */
export function fakeRegistries(): RegistryFactory & { created: FakeRegistry[]; prepare?: (r: FakeRegistry) => void } {
  const factory: RegistryFactory & { created: FakeRegistry[]; prepare?: (r: FakeRegistry) => void } = {
    created: [],
    key: (config) => (config.etcd.endpoints.length === 0 ? undefined : JSON.stringify([config.etcd.endpoints, config.etcd.prefix])),
    create: () => {
      const r = new FakeRegistry();
      factory.prepare?.(r);
      factory.created.push(r);
      return Promise.resolve(r);
    },
  };
  return factory;
}

export function peer(n: number, extra: Partial<Peer> = {}): Peer {
  const hex = n.toString(16).padStart(2, '0');
  return { subnet: `10.234.${n}.0/24`, publicIP: `192.168.0.${n}`, vtepMAC: `02:00:00:00:00:${hex}`, source: 'fake', key: `/lease/${n}`, order: n, ...extra };
}
