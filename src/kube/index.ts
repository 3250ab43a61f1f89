/**
 * The Kubernetes API client, loaded only by the users of the API (`await import('../kube/index.js')`):
 * a VM that does not use Kubernetes never loads it. The config schema (config-schema.ts) is
 * imported apart, by the config itself.
 */
export { createKubeClient, loadTarget, clientForTarget, type ConnectOptions } from './connect.js';
export { KubeClient, resourcePath, withQuery, type ResourceRef, type Query, type PatchType, type ListPage } from './client.js';
export { KubeApiError, isGone, isStatus, type KubeStatus } from './api-error.js';
export { Informer, type InformerOptions, type ChangeCause } from './informer.js';
export type { InformerState, InformerStatus, DroppedReport } from './informer-status.js';
export { listAll, type ListOptions, type ListResult } from './list-pager.js';
export { deniedAccess, describeAccess, type AccessCheck, type AccessDenial } from './access-review.js';
export { diffObjects, type Change, type ChangeType } from './diff.js';
export { checkObject, objectKey, type KubeObject, type KubeMetadata } from './objects.js';
export { parseKubeconfig } from './kubeconfig.js';
export type { KubeTarget, Origin, Material, TokenSpec } from './target.js';
