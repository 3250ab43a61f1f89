/**
 * A whole collection, page by page (`limit` + `continue`), so a list of thousands of Nodes never
 * needs one huge response. The pages are one consistent snapshot at the first page's
 * resourceVersion; if etcd compacted that version before the last page (410 on a continue
 * token), the list starts over, a bounded number of times. Every item is checked; bad ones are
 * returned apart, never kept.
 */
import { isGone } from './api-error.js';
import type { KubeClient, Query } from './client.js';
import { checkObject, type KubeObject } from './objects.js';

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per page; default 500 (client-go's pager). */
  pageSize?: number;
  /** How many times a 410 on a continue token restarts the list; default 3. */
  maxRestarts?: number;
  /** Called after each page (progress of a large list). */
  onPage?: (page: number, items: number) => Promise<void> | void;
  signal?: AbortSignal;
}

export interface DroppedItem {
  problem: string;
  key?: string;
}

export interface ListResult {
  objects: Map<string, KubeObject>;
  resourceVersion: string;
  dropped: DroppedItem[];
  pages: number;
  /** Lists started over after a 410 on a continue token. */
  restarts: number;
}

export async function listAll(client: KubeClient, path: string, options: ListOptions = {}): Promise<ListResult> {
  const maxRestarts = options.maxRestarts ?? 3;
  for (let restarts = 0; ; restarts += 1) {
    try {
      return { ...(await listOnce(client, path, options)), restarts };
    } catch (err) {
      if (!isGone(err) || restarts >= maxRestarts) throw err;
    }
  }
}

async function listOnce(client: KubeClient, path: string, options: ListOptions): Promise<Omit<ListResult, 'restarts'>> {
  const objects = new Map<string, KubeObject>();
  const dropped: DroppedItem[] = [];
  const base: Query = { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, limit: options.pageSize ?? 500 };
  let resourceVersion = '';
  let cont: string | undefined;
  let pages = 0;
  do {
    const page = await client.listPage(path, { ...base, continue: cont }, options.signal);
    pages += 1;
    // The snapshot's version is the first page's; later pages repeat it.
    if (resourceVersion === '') resourceVersion = page.resourceVersion;
    for (const item of page.items) {
      const checked = checkObject(item);
      if (checked.ok) objects.set(checked.key, checked.object);
      else dropped.push({ problem: checked.problem, ...(checked.key === undefined ? {} : { key: checked.key }) });
    }
    cont = page.continue;
    await options.onPage?.(pages, page.items.length);
  } while (cont !== undefined);
  return { objects, resourceVersion, dropped, pages };
}
