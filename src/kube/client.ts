/**
 * The API verbs the agent needs: get, one list page, create, replace, patch (merge, strategic,
 * JSON), delete, raw POST (TokenRequest, access reviews) and the watch stream. Objects coming back
 * are checked (objects.ts) before the caller sees them; paths are built from checked names.
 */
import type { IncomingMessage } from 'node:http';
import { AgentError, ErrorCode } from '../errors.js';
import { KubeApiError } from './api-error.js';
import { checkObject, resourceVersionOf, type KubeObject } from './objects.js';
import type { Transport } from './transport.js';

export interface ResourceRef {
  /** '' (or absent) for the core group: /api/v1; otherwise /apis/<group>/<version>. */
  group?: string;
  version: string;
  /** Plural, e.g. nodes, serviceentries. */
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export type PatchType = 'merge' | 'strategic' | 'json';

const PATCH_CONTENT: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
};

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  /** Set when more pages follow. */
  continue?: string;
}

// Path segments: DNS-1123 names and plural resource names; nothing that could escape the path.
const SEGMENT = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

function segment(value: string, what: string): string {
  if (!SEGMENT.test(value) || value.includes('..')) throw new AgentError(ErrorCode.KubeApiFailed, `${what} ${JSON.stringify(value)} is not a Kubernetes name`);
  return value;
}

export function resourcePath(ref: ResourceRef): string {
  const group = ref.group ?? '';
  const base = group === '' ? `/api/${segment(ref.version, 'version')}` : `/apis/${segment(group, 'group')}/${segment(ref.version, 'version')}`;
  const ns = ref.namespace === undefined || ref.namespace === '' ? '' : `/namespaces/${segment(ref.namespace, 'namespace')}`;
  const name = ref.name === undefined ? '' : `/${segment(ref.name, 'name')}`;
  const sub = ref.subresource === undefined ? '' : `/${segment(ref.subresource, 'subresource')}`;
  if (sub !== '' && name === '') throw new AgentError(ErrorCode.KubeApiFailed, `subresource ${ref.subresource} needs a name`);
  return `${base}${ns}/${segment(ref.resource, 'resource')}${name}${sub}`;
}

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

export class KubeClient {
  constructor(
    private readonly transport: Transport,
    /** For logs and errors; never secret. */
    readonly description: string,
  ) {}

  get server(): string {
    return this.transport.server;
  }

  async get(path: string, query?: Query): Promise<KubeObject> {
    return this.object('GET', withQuery(path, query));
  }

  /** A GET whose answer is not an object with metadata (discovery: /apis/<group>). */
  async getRaw(path: string): Promise<unknown> {
    return this.transport.json({ method: 'GET', path });
  }

  /** One page of a collection; `limit` + `continue` page through large ones (see listAll). */
  async listPage(path: string, query?: Query, signal?: AbortSignal): Promise<ListPage> {
    const full = withQuery(path, query);
    const body = await this.transport.json({ method: 'GET', path: full, ...(signal === undefined ? {} : { signal }) });
    const items = (body as { items?: unknown } | undefined)?.items;
    const rv = resourceVersionOf(body);
    if (!Array.isArray(items) && items !== null && items !== undefined) throw malformed('GET', full, 'items is not a list');
    if (rv === undefined) throw malformed('GET', full, 'the list has no metadata.resourceVersion');
    const cont = (body as { metadata: { continue?: unknown } }).metadata.continue;
    const page: ListPage = { items: Array.isArray(items) ? items : [], resourceVersion: rv };
    if (typeof cont === 'string' && cont !== '') page.continue = cont;
    return page;
  }

  async create(path: string, body: unknown, query?: Query): Promise<KubeObject> {
    return this.object('POST', withQuery(path, query), JSON.stringify(body));
  }

  async replace(path: string, body: unknown): Promise<KubeObject> {
    return this.object('PUT', path, JSON.stringify(body));
  }

  /** Strategic merge by default (what kubectl and flanneld send for built-in types); CRDs take `merge`. */
  async patch(path: string, patch: unknown, type: PatchType = 'strategic', query?: Query): Promise<KubeObject> {
    return this.object('PATCH', withQuery(path, query), JSON.stringify(patch), PATCH_CONTENT[type]);
  }

  /** Deletes; `uid`/`resourceVersion` preconditions make it delete only the object we mean. */
  async delete(path: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<unknown> {
    const body = preconditions === undefined ? undefined : JSON.stringify({ apiVersion: 'v1', kind: 'DeleteOptions', preconditions });
    return this.transport.json({ method: 'DELETE', path, ...(body === undefined ? {} : { body }) });
  }

  /** A POST whose answer is not an object with metadata (TokenRequest, SelfSubjectAccessReview). */
  async post(path: string, body: unknown): Promise<unknown> {
    return this.transport.json({ method: 'POST', path, body: JSON.stringify(body) });
  }

  /** The watch response; the caller reads its lines and must consume or destroy it. */
  async watch(path: string, query: Query, deadlineMs: number, signal?: AbortSignal): Promise<IncomingMessage> {
    return this.transport.stream({ method: 'GET', path: withQuery(path, { ...query, watch: 1 }), ...(signal === undefined ? {} : { signal }) }, deadlineMs);
  }

  close(): void {
    this.transport.close();
  }

  private async object(method: string, path: string, body?: string, contentType?: string): Promise<KubeObject> {
    const answer = await this.transport.json({ method, path, ...(body === undefined ? {} : { body }), ...(contentType === undefined ? {} : { contentType }) });
    const checked = checkObject(answer);
    if (!checked.ok) throw malformed(method, path, checked.problem);
    return checked.object;
  }
}

function malformed(method: string, path: string, problem: string): KubeApiError {
  return new KubeApiError({ method, path, status: 200, reason: 'Malformed', message: `the server's answer is unusable: ${problem}` });
}
