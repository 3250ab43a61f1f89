/**
 * Plugs flannel's etcd registry into the overlay controller's two hooks: the own-subnet step
 * (acquire or take back this VM's lease) and an extra PeerSource (every other host's lease). Both
 * share one EtcdRegistry per registry-relevant config; stopping the source (controller stop or
 * reload) disposes it, and the next start takes our lease back with the last announced identity.
 */
import type { Registry } from 'prom-client';
import type { Readiness } from '../agent/controller.js';
import type { OverlayConfig } from '../config/schema.js';
import { AgentError, ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { EtcdRegistry } from './etcd-registry.js';
import type { NetworkBounds } from './peer-gate.js';
import type { Peer, PeerSource } from './peer-source.js';

export interface WiringContext {
  log: Logger;
  stateDir: string;
  metrics?: Registry;
  /** Runs at controller stop: disposes a registry whose source never started or stopped. */
  defer?(cleanup: () => Promise<void>): void;
}

export interface LocalIdentity {
  publicIP: string;
  vtepMAC: string;
}

interface Entry {
  fingerprint: string;
  registry: Promise<EtcdRegistry>;
  disposed: boolean;
}

let current: Entry | undefined;
let lastIdentity: LocalIdentity | undefined;

function fingerprint(config: OverlayConfig, stateDir: string): string {
  return JSON.stringify([config.etcd, config.vni, config.port, config.network, config.subnet, stateDir]);
}

async function dispose(entry: Entry): Promise<void> {
  if (entry.disposed) return;
  entry.disposed = true;
  if (current === entry) current = undefined;
  const registry = await entry.registry.catch(() => undefined);
  await registry?.stop();
}

function registryFor(config: OverlayConfig, ctx: WiringContext): Promise<EtcdRegistry> {
  const fp = fingerprint(config, ctx.stateDir);
  if (current !== undefined && !current.disposed && current.fingerprint === fp) return current.registry;
  if (current !== undefined) void dispose(current);
  const log = ctx.log.child({ component: 'etcd' });
  const entry: Entry = {
    fingerprint: fp,
    disposed: false,
    registry: EtcdRegistry.create({
      overlay: config,
      stateDir: ctx.stateDir,
      log,
      ...(ctx.metrics === undefined ? {} : { metrics: ctx.metrics }),
      onSubnetChange: (subnet, previous) =>
        log.error({ subnet, previous }, 'our lease had to move to another subnet; restart the agent so the VTEP address follows'),
    }),
  };
  current = entry;
  return entry.registry;
}

/** The own-subnet step with a registry: the subnet of the lease we hold (or overlay.subnet). */
export function etcdSubnetAcquirer(config: OverlayConfig, ctx: WiringContext): (local: LocalIdentity) => Promise<string> {
  return async (local) => {
    lastIdentity = local;
    const registry = await registryFor(config, ctx);
    const entry = current;
    if (entry !== undefined) ctx.defer?.(() => dispose(entry));
    const subnet = await registry.ownSubnet(local);
    if (subnet === undefined) {
      throw new AgentError(ErrorCode.ConfigInvalid, 'overlay.subnet is empty and overlay.etcd.register is false: set this host\'s subnet, or let the agent register a lease');
    }
    return subnet;
  };
}

/** The etcd PeerSource for the controller; owns the registry's lifetime. */
export class EtcdSourceAdapter implements PeerSource {
  readonly name = 'etcd';
  readonly remote = true;
  private registry: EtcdRegistry | undefined;
  private entry: Entry | undefined;

  constructor(
    private readonly config: OverlayConfig,
    private readonly ctx: WiringContext,
  ) {}

  async start(onChange: (peers: readonly Peer[]) => void): Promise<void> {
    const registry = await registryFor(this.config, this.ctx);
    this.registry = registry;
    this.entry = current;
    // After a reload that did not redo the own-subnet step, take our lease back here.
    if (this.config.etcd.register && !registry.registering && lastIdentity !== undefined) await registry.ownSubnet(lastIdentity);
    await registry.source.start(onChange);
  }

  async stop(): Promise<void> {
    if (this.entry !== undefined) await dispose(this.entry);
    this.entry = undefined;
  }

  network(): NetworkBounds | undefined {
    return this.registry?.source.network();
  }

  status(): Record<string, unknown> {
    return this.registry?.status() ?? { state: 'not started' };
  }

  ready(): Readiness {
    return this.registry?.ready() ?? { ready: false, reason: 'not started' };
  }
}
