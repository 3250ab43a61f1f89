/**
 * The minimal shape every object from the API must have before anything keeps it: a name, a
 * resourceVersion, and (when present) a namespace and string-to-string labels and annotations.
 * Anything else is the caller's to check. Pure.
 */

export interface KubeMetadata {
  name: string;
  namespace?: string;
  resourceVersion: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeMetadata;
  [field: string]: unknown;
}

export type Checked = { ok: true; object: KubeObject; key: string } | { ok: false; problem: string; key?: string; resourceVersion?: string };

// A DNS-1123 subdomain is at most 253 characters; anything longer is not a Kubernetes name.
const MAX_NAME = 253;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown): boolean {
  return value === undefined || (isRecord(value) && Object.values(value).every((v) => typeof v === 'string'));
}

/** namespace/name, or name for a cluster-scoped object: the key of informer maps. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

function validName(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_NAME && !value.includes('/');
}

export function checkObject(value: unknown): Checked {
  if (!isRecord(value)) return { ok: false, problem: 'not a JSON object' };
  const meta = value.metadata;
  if (!isRecord(meta)) return { ok: false, problem: 'no metadata' };
  const rv = typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '' ? meta.resourceVersion : undefined;
  const partial = (problem: string, key?: string): Checked => ({ ok: false, problem, ...(key === undefined ? {} : { key }), ...(rv === undefined ? {} : { resourceVersion: rv }) });
  if (!validName(meta.name)) return partial('metadata.name is missing or not a name');
  if (meta.namespace !== undefined && !validName(meta.namespace)) return partial('metadata.namespace is not a name');
  const key = objectKey(meta.namespace, meta.name);
  if (rv === undefined) return partial('metadata.resourceVersion is missing or not a string', key);
  if (!stringMap(meta.labels)) return partial('metadata.labels is not a map of strings', key);
  if (!stringMap(meta.annotations)) return partial('metadata.annotations is not a map of strings', key);
  return { ok: true, object: value as KubeObject, key };
}

/** The resourceVersion of a list or a bookmark, if it is a non-empty string. */
export function resourceVersionOf(value: unknown): string | undefined {
  if (!isRecord(value) || !isRecord(value.metadata)) return undefined;
  const rv = value.metadata.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}
