/**
 * Which registry the overlay config asks for (flannel's etcd registry, or its kube subnet manager
 * with overlay.kubernetes), and the factory the overlay controller uses. A registry's code (and its
 * client library: etcd3 and gRPC for etcd, the API client for Kubernetes) is loaded only when one
 * is configured, so an overlay with static peers does not carry it.
 */
import type { OverlayConfig } from '../config/schema.js';
import type { KubernetesConfig } from '../kube/config-schema.js';
import { AgentError, ErrorCode } from '../errors.js';
import type { OverlayRegistry, RegistryContext } from './registry.js';

export interface RegistryFactory {
  /**
   * The registry `config` asks for, as a key that changes exactly when a running instance can no
   * longer serve it (the controller then closes it and creates another); undefined: none.
   */
  key(config: OverlayConfig, stateDir: string, kubernetes?: KubernetesConfig): string | undefined;
  create(config: OverlayConfig, ctx: RegistryContext): Promise<OverlayRegistry>;
}

export const registries: RegistryFactory = {
  key(config, stateDir, kubernetes) {
    if (config.etcd.endpoints.length > 0) return JSON.stringify(['etcd', config.etcd, config.vni, config.port, config.network, config.subnet, stateDir]);
    if (config.kubernetes.enabled) return JSON.stringify(['kubernetes', config.kubernetes, kubernetes, config.vni, config.port, config.network, config.subnet, stateDir]);
    return undefined;
  },
  async create(config, ctx) {
    if (config.etcd.endpoints.length > 0) {
      const { EtcdRegistry } = await import('./etcd-registry.js');
      return EtcdRegistry.create({ overlay: config, stateDir: ctx.stateDir, log: ctx.log.child({ component: 'etcd' }), ...(ctx.metrics === undefined ? {} : { metrics: ctx.metrics }) });
    }
    if (config.kubernetes.enabled) {
      if (ctx.kubernetes === undefined) throw new AgentError(ErrorCode.ConfigInvalid, 'overlay.kubernetes needs the kubernetes: connection');
      const { KubeRegistry } = await import('./kube/registry.js');
      return KubeRegistry.create({ overlay: config, kubernetes: ctx.kubernetes, stateDir: ctx.stateDir, log: ctx.log.child({ component: 'kube-registry' }), ...(ctx.metrics === undefined ? {} : { metrics: ctx.metrics }) });
    }
    throw new AgentError(ErrorCode.Internal, 'no registry configured');
  },
};
