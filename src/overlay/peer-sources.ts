/**
 * Where the controller gets its peers and its own subnet: the one place to plug in more sources
 * (flannel's etcd registry adds a PeerSource here, and a lease acquirer in ownSubnetAcquirer).
 */
import type { Registry } from 'prom-client';
import type { OverlayConfig } from '../config/schema.js';
import { AgentError, ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type * as EtcdWiringModule from './etcd-wiring.js';
import type { PeerSource } from './peer-source.js';
import { StaticPeerSource } from './static-peer-source.js';

type EtcdWiring = typeof EtcdWiringModule;

export interface SourceContext {
  log: Logger;
  stateDir: string;
  /** Registers work to run when the controller stops (e.g. a lease renewer's timer). */
  defer(cleanup: () => Promise<void>): void;
  /** The agent's metrics registry; sources export their metrics when it is given. */
  metrics?: Registry;
}

/** etcd3 and gRPC are loaded only on a VM that uses the registry: elsewhere a few hundred ms of start-up for nothing. */
const etcdWiring = (): Promise<EtcdWiring> => import('./etcd-wiring.js');

export async function buildPeerSources(config: OverlayConfig, ctx: SourceContext): Promise<PeerSource[]> {
  const sources: PeerSource[] = [new StaticPeerSource(config.peers)];
  if (config.etcd.endpoints.length > 0) sources.push(new (await etcdWiring()).EtcdSourceAdapter(config, ctx));
  return sources;
}

/** What this host announces, for a registry lease. */
export interface OwnLeaseInput {
  publicIP: string;
  vtepMAC: string;
}

export type SubnetAcquirer = (input: OwnLeaseInput) => Promise<string>;

/** `overlay.subnet`; with overlay.etcd, the subnet of the lease the registry acquires. */
export function ownSubnetAcquirer(config: OverlayConfig, ctx: SourceContext): SubnetAcquirer {
  if (config.etcd.endpoints.length > 0) return async (input) => (await etcdWiring()).etcdSubnetAcquirer(config, ctx)(input);
  return () => {
    if (config.subnet === '') {
      return Promise.reject(new AgentError(ErrorCode.ConfigInvalid, 'overlay.subnet is empty: set this host\'s subnet, e.g. 10.234.3.0/24 (or configure overlay.etcd to acquire one)'));
    }
    return Promise.resolve(config.subnet);
  };
}
