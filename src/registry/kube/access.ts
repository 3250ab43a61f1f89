/**
 * The permissions the Kubernetes registry needs, as SelfSubjectAccessReview checks for
 * check-config (pure). The ConfigMap is needed in one of the configured namespaces only.
 */
import type { AccessCheck } from '../../kube/access-review.js';
import type { OverlayKubernetesConfig } from './config.js';

/**
 * Needed to run: follow every Node, create ours, patch ours. Patch is checked on our Node by name,
 * so a ClusterRole that allows it only there (resourceNames) passes, as docs/kubernetes.md advises.
 */
export function registryAccessChecks(nodeName: string): AccessCheck[] {
  return [...['get', 'list', 'watch', 'create'].map((verb) => ({ verb, group: '', resource: 'nodes' })), { verb: 'patch', group: '', resource: 'nodes', name: nodeName }];
}

/** Where net-conf.json may be read: any one of these suffices. */
export function configMapAccessChecks(k: OverlayKubernetesConfig): AccessCheck[] {
  return k.configMap.namespaces.map((namespace) => ({ verb: 'get', group: '', resource: 'configmaps', namespace, name: k.configMap.name }));
}

/** Needed only by `mesh-node-agent leave`. */
export function leaveAccessCheck(nodeName: string): AccessCheck {
  return { verb: 'delete', group: '', resource: 'nodes', name: nodeName };
}
