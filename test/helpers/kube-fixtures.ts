/**
 * Objects tests put into the real API server: a ServiceAccount bound to exactly the rules a test
 * names, with a token minted by TokenRequest (signed with the key start.sh configures); the
 * ServiceEntry CRD (waited on until Established and served); kubeconfig files; Nodes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { KubeApiError } from '../../src/kube/api-error.js';
import { resourcePath, type KubeClient } from '../../src/kube/client.js';
import { waitFor } from './exec.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const RBAC = 'rbac.authorization.k8s.io';

/** Creates what may already exist (a second test run on the same server): 409 is fine. */
async function ensure(api: KubeClient, path: string, body: unknown): Promise<void> {
  try {
    await api.create(path, body);
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 409)) throw err;
  }
}

/**
 * A ServiceAccount `name` in `namespace` bound (ClusterRole + ClusterRoleBinding) to `rules`, and a
 * token for it. Resolves once the API server's authorizer has seen the binding.
 */
export async function serviceAccountToken(api: KubeClient, name: string, rules: PolicyRule[], namespace = 'default', expirationSeconds = 3600): Promise<string> {
  await ensure(api, resourcePath({ version: 'v1', resource: 'serviceaccounts', namespace }), { metadata: { name } });
  await ensure(api, resourcePath({ group: RBAC, version: 'v1', resource: 'clusterroles' }), { metadata: { name }, rules });
  await ensure(api, resourcePath({ group: RBAC, version: 'v1', resource: 'clusterrolebindings' }), {
    metadata: { name },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
  const answer = (await api.post(resourcePath({ version: 'v1', resource: 'serviceaccounts', namespace, name, subresource: 'token' }), {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds },
  })) as { status?: { token?: unknown } };
  const token = answer.status?.token;
  if (typeof token !== 'string' || token === '') throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const first = rules[0];
  if (first !== undefined) {
    // RBAC reaches the authorizer through its own informer: wait until the first rule is in force.
    const check = { verb: first.verbs[0] ?? 'get', group: first.apiGroups[0] ?? '', resource: first.resources[0] ?? '' };
    await waitFor(`RBAC for ${name} in force`, async () => {
      const review = (await api.post('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user: `system:serviceaccount:${namespace}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'], resourceAttributes: check },
      })) as { status?: { allowed?: boolean } };
      return review.status?.allowed === true;
    }, 15_000, 100);
  }
  return token;
}

/** Applies the tool's ServiceEntry CRD and waits until it is Established and its collection answers. */
export async function applyServiceEntryCrd(api: KubeClient, toolDir: string): Promise<void> {
  const crd = parse(await readFile(join(toolDir, 'crds', 'serviceentry.yaml'), 'utf8')) as { metadata: { name: string } };
  const crds = resourcePath({ group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' });
  await ensure(api, crds, crd);
  await waitFor('the ServiceEntry CRD Established', async () => {
    const got = await api.get(`${crds}/${crd.metadata.name}`);
    const conditions = (got.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? [];
    return conditions.some((c) => c.type === 'Established' && c.status === 'True');
  }, 30_000, 100);
  for (const version of ['v1beta1', 'v1']) {
    await waitFor(`serviceentries ${version} served`, async () => {
      await api.listPage(resourcePath({ group: 'networking.istio.io', version, resource: 'serviceentries' }), { limit: 1 });
      return true;
    }, 30_000, 100);
  }
}

export interface KubeconfigSpec {
  server: string;
  cluster?: Record<string, unknown>;
  user?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

/** Writes a one-context kubeconfig (cluster "c", user "u", context "x") and returns its path. */
export async function writeKubeconfig(dir: string, file: string, spec: KubeconfigSpec): Promise<string> {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: spec.server, ...spec.cluster } }],
    users: [{ name: 'u', user: { ...spec.user } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', ...spec.context } }],
    'current-context': 'x',
  };
  const path = join(dir, file);
  await writeFile(path, stringify(doc));
  return path;
}

/** A Node as a test writes it: labels, annotations, a NoSchedule taint (no kubelet will ever run). */
export function nodeManifest(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels, annotations },
    spec: { taints: [{ key: 'mesh-node-agent.test/no-kubelet', effect: 'NoSchedule' }] },
  };
}

export const NODES = resourcePath({ version: 'v1', resource: 'nodes' });
