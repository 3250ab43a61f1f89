/**
 * Which permissions the client lacks, asked of the API server itself (SelfSubjectAccessReview):
 * check-config can then say "missing: patch nodes/status" instead of a 403 at run time. Every
 * authenticated user may create these reviews (system:basic-user).
 */
import { KubeApiError } from './api-error.js';
import type { KubeClient } from './client.js';

export interface AccessCheck {
  verb: string;
  /** '' for the core group. */
  group: string;
  /** Plural resource, e.g. nodes. */
  resource: string;
  subresource?: string;
  /** Absent: cluster-wide (all namespaces for a namespaced resource). */
  namespace?: string;
  name?: string;
}

export interface AccessDenial extends AccessCheck {
  /** The authorizer's reason, when it gives one (RBAC usually gives none). */
  reason: string;
}

const REVIEW_PATH = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

/** "patch nodes/status (cluster-wide)", "get configmaps "kube-flannel-cfg" in namespace kube-flannel". */
export function describeAccess(check: AccessCheck): string {
  const resource = `${check.resource}${check.subresource === undefined ? '' : `/${check.subresource}`}${check.group === '' ? '' : `.${check.group}`}`;
  const name = check.name === undefined ? '' : ` "${check.name}"`;
  const where = check.namespace === undefined ? ' (cluster-wide)' : ` in namespace ${check.namespace}`;
  return `${check.verb} ${resource}${name}${where}`;
}

/** The checks the API server denies, in the order given. A failing review request throws. */
export async function deniedAccess(client: KubeClient, checks: readonly AccessCheck[]): Promise<AccessDenial[]> {
  const answers = await Promise.all(checks.map((check) => review(client, check)));
  return checks.flatMap((check, index) => {
    const answer = answers[index];
    return answer === undefined || answer.allowed ? [] : [{ ...check, reason: answer.reason }];
  });
}

async function review(client: KubeClient, check: AccessCheck): Promise<{ allowed: boolean; reason: string }> {
  const resourceAttributes: Record<string, string> = { verb: check.verb, group: check.group, resource: check.resource };
  if (check.subresource !== undefined) resourceAttributes.subresource = check.subresource;
  if (check.namespace !== undefined) resourceAttributes.namespace = check.namespace;
  if (check.name !== undefined) resourceAttributes.name = check.name;
  const body = await client.post(REVIEW_PATH, { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } });
  const status = (body as { status?: { allowed?: unknown; reason?: unknown; evaluationError?: unknown } } | undefined)?.status;
  if (status === undefined || typeof status.allowed !== 'boolean') {
    throw new KubeApiError({ method: 'POST', path: REVIEW_PATH, status: 200, reason: 'Malformed', message: 'the access review has no status.allowed' });
  }
  const reason = [status.reason, status.evaluationError].filter((s): s is string => typeof s === 'string' && s !== '').join('; ');
  return { allowed: status.allowed, reason };
}
