/**
 * ServiceEntries from the Kubernetes API (networking.istio.io, v1 where served, else v1beta1), in
 * all namespaces or a list of them, followed by list + watch (one Informer per namespace, or one
 * cluster-wide). Each entry is read exactly like a manifest (mesh-table.ts readServiceEntry); an
 * entry with any problem is refused as a whole and reported, the others stay. Every change
 * rebuilds the mesh table together with the files (same VIP allocation, same answers). While the
 * API is unreachable the last entries are kept.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { isStatus } from '../kube/api-error.js';
import { backoffDelay, KUBE_BACKOFF, type BackoffOptions } from '../kube/backoff.js';
import { resourcePath, type KubeClient } from '../kube/client.js';
import { Informer } from '../kube/informer.js';
import type { KubeObject } from '../kube/objects.js';
import { readServiceEntry } from './mesh-table.js';

export const SE_GROUP = 'networking.istio.io';
/** Preferred first: v1 since Istio 1.22; v1beta1 before. */
const VERSIONS = ['v1', 'v1beta1'];

export interface KubeEntry {
  key: string;
  hosts: string[];
  addresses: string[];
}

export interface KubeServiceEntryOptions {
  client: KubeClient;
  /** Empty: all namespaces. */
  namespaces: readonly string[];
  log: Logger;
  /** The entries changed (after the first list, and each change). */
  onChange: () => void;
  backoff?: BackoffOptions;
  watchTimeoutSeconds?: number;
}

function label(object: KubeObject): string {
  return `ServiceEntry ${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/** The served version of the ServiceEntry API, from discovery; undefined when the CRD is absent. */
export async function servedVersion(client: KubeClient): Promise<string | undefined> {
  let body: unknown;
  try {
    body = await client.getRaw(`/apis/${SE_GROUP}`);
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
  const versions = (body as { versions?: unknown }).versions;
  const served = Array.isArray(versions) ? versions.map((v) => (v as { version?: unknown }).version).filter((v): v is string => typeof v === 'string') : [];
  return VERSIONS.find((v) => served.includes(v));
}

export class KubeServiceEntrySource {
  private informers: Informer[] = [];
  private entries: KubeEntry[] = [];
  private version: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private stopped = false;
  private lastError: string | undefined;

  constructor(private readonly options: KubeServiceEntryOptions) {}

  /** Starts following; waits up to `waitMs` for the first list (never fails: an absent API is retried). */
  async start(waitMs: number): Promise<void> {
    await this.discover();
    const deadline = Date.now() + waitMs;
    for (const informer of this.informers) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await informer.waitForSync(left).catch(() => undefined);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const informer of this.informers) void informer.stop();
    this.informers = [];
  }

  /** The entries as last read (checked ones only). */
  current(): readonly KubeEntry[] {
    return this.entries;
  }

  synced(): boolean {
    return this.informers.length > 0 && this.informers.every((i) => i.status().synced);
  }

  status(): Record<string, unknown> {
    return {
      version: this.version ?? null,
      namespaces: this.options.namespaces.length === 0 ? 'all' : this.options.namespaces,
      entries: this.entries.length,
      synced: this.synced(),
      connected: this.informers.length > 0 && this.informers.every((i) => i.status().connected),
      refused: Object.assign({}, ...this.informers.map((i) => i.status().invalid)) as Record<string, string>,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      relists: this.informers.reduce((n, i) => n + i.status().relists, 0),
    };
  }

  /** Why entries from the API are not (all) in use, or undefined. */
  problem(): string | undefined {
    if (this.version === undefined) return `ServiceEntries from the API: ${this.lastError ?? 'not listed yet'}`;
    const down = this.informers.find((i) => !i.status().synced || !i.status().connected);
    if (down !== undefined) return `ServiceEntries from the API: ${down.status().reason ?? 'not connected'}`;
    return undefined;
  }

  /** Finds the served version (retrying with backoff while the API or the CRD is absent), then follows. */
  private async discover(): Promise<void> {
    if (this.stopped) return;
    try {
      this.version = await servedVersion(this.options.client);
      if (this.version === undefined) this.lastError = `the ${SE_GROUP} API (ServiceEntry CRD) is not served by the cluster`;
    } catch (err) {
      this.lastError = errorMessage(err);
    }
    if (this.version === undefined) {
      const delay = backoffDelay(this.attempts, this.options.backoff ?? KUBE_BACKOFF);
      this.attempts += 1;
      this.options.log.warn({ err: this.lastError, retryInMs: delay }, 'ServiceEntries from the API: not available yet; retrying');
      this.timer = setTimeout(() => void this.discover(), delay);
      this.timer.unref();
      return;
    }
    this.lastError = undefined;
    const version = this.version;
    const namespaces: (string | undefined)[] = this.options.namespaces.length === 0 ? [undefined] : [...this.options.namespaces];
    this.informers = namespaces.map(
      (namespace) =>
        new Informer({
          client: this.options.client,
          path: resourcePath({ group: SE_GROUP, version, resource: 'serviceentries', ...(namespace === undefined ? {} : { namespace }) }),
          log: this.options.log,
          check: (object) => {
            const problems = readServiceEntry(object, label(object)).problems;
            return problems.length === 0 ? undefined : problems.join('; ');
          },
          transform: (object) => ({ metadata: { name: object.metadata.name, namespace: object.metadata.namespace, resourceVersion: object.metadata.resourceVersion }, spec: object.spec }),
          onChange: () => this.recompute(),
          ...(this.options.backoff === undefined ? {} : { backoff: this.options.backoff }),
          ...(this.options.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: this.options.watchTimeoutSeconds }),
        }),
    );
    for (const informer of this.informers) informer.start();
    this.options.log.info({ version, namespaces: this.options.namespaces.length === 0 ? 'all' : this.options.namespaces }, 'following ServiceEntries from the API');
  }

  private recompute(): void {
    const entries: KubeEntry[] = [];
    for (const informer of this.informers) {
      for (const [key, object] of informer.list()) {
        const parsed = readServiceEntry(object, label(object));
        entries.push({ key, hosts: parsed.hosts, addresses: parsed.addresses });
      }
    }
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.entries = entries;
    this.options.onChange();
  }
}
