/**
 * Which registry the overlay config asks for, and the factory the overlay controller uses. A
 * registry's code (and its client library: etcd3 and gRPC for etcd) is loaded only when one is
 * configured, so an overlay with static peers does not carry it. A second kind (Kubernetes) adds
 * one branch to each function below.
 */
import type { OverlayConfig } from '../config/schema.js';
import type { OverlayRegistry, RegistryContext } from './registry.js';

export interface RegistryFactory {
  /**
   * The registry `config` asks for, as a key that changes exactly when a running instance can no
   * longer serve it (the controller then closes it and creates another); undefined: none.
   */
  key(config: OverlayConfig, stateDir: string): string | undefined;
  create(config: OverlayConfig, ctx: RegistryContext): Promise<OverlayRegistry>;
}

export const registries: RegistryFactory = {
  key(config, stateDir) {
    if (config.etcd.endpoints.length > 0) return JSON.stringify(['etcd', config.etcd, config.vni, config.port, config.network, config.subnet, stateDir]);
    return undefined;
  },
  async create(config, ctx) {
    if (config.etcd.endpoints.length > 0) {
      const { EtcdRegistry } = await import('./etcd-registry.js');
      return EtcdRegistry.create({ overlay: config, stateDir: ctx.stateDir, log: ctx.log.child({ component: 'etcd' }), ...(ctx.metrics === undefined ? {} : { metrics: ctx.metrics }) });
    }
    throw new Error('no registry configured');
  },
};
