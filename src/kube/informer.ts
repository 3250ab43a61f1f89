/**
 * List + watch of one collection ("informer-lite"). It lists (paged), then watches from the
 * list's resourceVersion with bookmarks, keeping a map keyed namespace/name. A watch that ends
 * reopens from the last resourceVersion seen; a 410 Gone (or a broken stream) relists and
 * delivers exactly the difference; other failures retry with jittered backoff. During an outage
 * the map is kept as it was: a server that is down never looks like "everything was deleted".
 */
import { WakeableSleep } from '../agent/wakeable-sleep.js';
import type { Logger } from '../log.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { KubeApiError, isGone } from './api-error.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { KubeClient } from './client.js';
import { diffObjects, type Change } from './diff.js';
import { StatusBook, type DroppedReport, type InformerState, type InformerStatus } from './informer-status.js';
import { listAll } from './list-pager.js';
import type { KubeObject } from './objects.js';
import { LineTooLongError, decodeWatchLine } from './watch-decoder.js';
import { readWatchStream } from './watch-stream.js';

export type ChangeCause = 'list' | 'relist' | 'watch';

export interface InformerOptions {
  client: KubeClient;
  /** The collection, e.g. resourcePath({ version: 'v1', resource: 'nodes' }). */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  pageSize?: number;
  /** Server-side length of one watch; default random 300–600 s, as client-go does. */
  watchTimeoutSeconds?: number;
  /** The caller's own check of an object; a problem keeps it out of the map (reported in status). */
  check?: (object: KubeObject) => string | undefined;
  /**
   * Keeps only what the caller reads of each checked object (client-go's SetTransform): a Node's
   * status (images, conditions) is most of its size and no use to the overlay. Must keep metadata.
   */
  transform?: (object: KubeObject) => KubeObject;
  backoff?: BackoffOptions;
  /** Longest watch line accepted; default 16 MiB. */
  maxLineBytes?: number;
  log: Logger;
  /** The map changed. `objects` is the live map: read it during the call, copy what you keep. */
  onChange?: (changes: readonly Change[], objects: ReadonlyMap<string, KubeObject>, cause: ChangeCause) => void;
  onState?: (state: InformerState) => void;
  onDropped?: (report: DroppedReport) => void;
}

/** The stream cannot be trusted any more (a line that is not an event): relist. */
class StreamFault extends AgentError {
  constructor(message: string) {
    super(ErrorCode.WatchReset, message);
  }
}

export class Informer {
  private objects = new Map<string, KubeObject>();
  private readonly book = new StatusBook();
  private needList = true;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly pause = new WakeableSleep();
  private syncWaiters: (() => void)[] = [];
  /** Consecutive failed requests (an outage); reset by any answer. */
  private failures = 0;
  /** Consecutive relists forced by 410 or a broken stream with no good event between; reset by one. */
  private resyncs = 0;
  /** Consecutive watches the server ended within a second. */
  private quickEnds = 0;

  constructor(private readonly options: InformerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.pause.wake();
    await this.loop;
  }

  /** The current objects, keyed namespace/name (name alone when cluster-scoped). */
  list(): ReadonlyMap<string, KubeObject> {
    return this.objects;
  }

  status(): InformerStatus {
    return { ...this.book.snapshot(), objects: this.objects.size };
  }

  /** Resolves once the first list is in; rejects after `timeoutMs` with why it is not. */
  waitForSync(timeoutMs: number): Promise<void> {
    if (this.book.status.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        reject(new AgentError(ErrorCode.KubeApiFailed, `${this.options.path}: not synced after ${timeoutMs} ms: ${this.book.status.reason ?? 'no answer yet'}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.syncWaiters.push(done);
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.needList) await this.relist();
        const started = Date.now();
        await this.watchOnce();
        // A server (or proxy) that ends every watch at once would make this loop spin: back off.
        this.quickEnds = Date.now() - started < 1000 ? this.quickEnds + 1 : 0;
        if (this.quickEnds > 1) await this.pause.sleep(backoffDelay(this.quickEnds - 2, this.options.backoff));
      } catch (err) {
        if (this.stopped) break;
        await this.recover(err);
      }
    }
  }

  private async recover(err: unknown): Promise<void> {
    const { log, path } = this.options;
    if (err instanceof LineTooLongError) this.dropped({ problem: err.message });
    if (isGone(err) || tooNew(err) || err instanceof StreamFault || err instanceof LineTooLongError) {
      this.needList = true;
      this.resyncs += 1;
      log.info({ path, resourceVersion: this.book.status.resourceVersion, err: errorMessage(err) }, 'kubernetes watch cannot resume; listing again');
      // The first relist is immediate; a server that keeps answering 410 is not hammered.
      if (this.resyncs > 1) await this.pause.sleep(backoffDelay(this.resyncs - 2, this.options.backoff));
      return;
    }
    this.failures += 1;
    const message = errorMessage(err);
    this.book.status.reconnects += 1;
    this.book.status.lastError = message;
    this.setState({ connected: false, reason: `kubernetes API: ${message}` });
    const retryAfter = err instanceof KubeApiError && err.retryAfter !== undefined ? err.retryAfter * 1000 : 0;
    const delay = Math.max(retryAfter, backoffDelay(this.failures - 1, this.options.backoff));
    log.warn({ path, err: message, retryInMs: delay }, 'kubernetes list/watch failed; keeping the last known objects');
    await this.pause.sleep(delay);
  }

  private async relist(): Promise<void> {
    const { client, path, check } = this.options;
    const result = await listAll(client, path, {
      ...(this.options.labelSelector === undefined ? {} : { labelSelector: this.options.labelSelector }),
      ...(this.options.fieldSelector === undefined ? {} : { fieldSelector: this.options.fieldSelector }),
      ...(this.options.pageSize === undefined ? {} : { pageSize: this.options.pageSize }),
      signal: this.abort.signal,
    });
    if (this.stopped) return;
    const next = new Map<string, KubeObject>();
    this.book.clearInvalid();
    for (const item of result.dropped) this.dropped(item);
    for (const [key, object] of result.objects) {
      const problem = check?.(object);
      if (problem === undefined) next.set(key, this.keep(object));
      else this.dropped({ key, problem });
    }
    const cause: ChangeCause = this.book.status.synced ? 'relist' : 'list';
    const changes = diffObjects(this.objects, next);
    this.objects = next;
    this.book.status.resourceVersion = result.resourceVersion;
    this.book.status.lists += 1;
    this.book.status.listRestarts += result.restarts;
    if (cause === 'relist') this.book.status.relists += 1;
    this.needList = false;
    this.failures = 0;
    this.setState({ synced: true, connected: true });
    for (const waiter of this.syncWaiters.splice(0)) waiter();
    if (changes.length > 0 || cause === 'list') this.deliver(changes, cause);
  }

  /** One watch request; resolves when the server ends it (its timeout), rejects on any failure. */
  private async watchOnce(): Promise<void> {
    const { client, path } = this.options;
    const timeout = this.options.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
    const query = {
      resourceVersion: this.book.status.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: timeout,
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
    };
    // The server ends the watch at `timeout`; a silent partition is cut 30 s later.
    const res = await client.watch(path, query, (timeout + 30) * 1000, this.abort.signal);
    this.failures = 0;
    this.setState({ connected: true });
    await readWatchStream(res, path, this.options.maxLineBytes ?? 16 * 1024 * 1024, (lines) => {
      const batch: Change[] = [];
      try {
        for (const line of lines) this.apply(line, batch);
      } finally {
        // What was applied before a failing line is delivered: the map already holds it.
        if (batch.length > 0) this.deliver(batch, 'watch');
      }
    });
    // The server ended the watch at its timeout: a normal end, not a fault.
    this.resyncs = 0;
  }

  private apply(line: string, batch: Change[]): void {
    const decoded = decodeWatchLine(line);
    if (!decoded.ok) {
      this.dropped(decoded.key === undefined ? { problem: decoded.problem } : { key: decoded.key, problem: decoded.problem });
      if (decoded.fatal) throw new StreamFault(`the watch stream carried a line that is no event (${decoded.problem})`);
      if (decoded.key !== undefined) this.remove(decoded.key, batch);
      if (decoded.resourceVersion !== undefined) this.book.status.resourceVersion = decoded.resourceVersion;
      return;
    }
    const event = decoded.event;
    if (event.type === 'ERROR') {
      const s = event.status;
      throw new KubeApiError({ method: 'WATCH', path: this.options.path, status: s.code ?? 500, ...s });
    }
    this.resyncs = 0;
    if (event.type === 'BOOKMARK') {
      this.book.status.bookmarks += 1;
      this.book.status.resourceVersion = event.resourceVersion;
      return;
    }
    this.book.status.events += 1;
    this.book.status.resourceVersion = event.object.metadata.resourceVersion;
    if (event.type === 'DELETED') {
      this.book.clearInvalid(event.key);
      this.remove(event.key, batch);
      return;
    }
    const problem = this.options.check?.(event.object);
    if (problem !== undefined) {
      this.dropped({ key: event.key, problem });
      this.remove(event.key, batch);
      return;
    }
    this.book.clearInvalid(event.key);
    const previous = this.objects.get(event.key);
    const object = this.keep(event.object);
    this.objects.set(event.key, object);
    if (previous === undefined) batch.push({ type: 'added', key: event.key, object });
    else if (previous.metadata.resourceVersion !== object.metadata.resourceVersion) batch.push({ type: 'modified', key: event.key, object, previous });
  }

  private keep(object: KubeObject): KubeObject {
    return this.options.transform === undefined ? slim(object) : this.options.transform(object);
  }

  private remove(key: string, batch: Change[]): void {
    const previous = this.objects.get(key);
    if (previous === undefined) return;
    this.objects.delete(key);
    batch.push({ type: 'deleted', key, object: previous });
  }

  private dropped(report: DroppedReport): void {
    if (this.book.drop(report)) this.options.log.warn({ path: this.options.path, key: report.key, problem: report.problem }, 'kubernetes object refused');
    this.safely(() => this.options.onDropped?.(report));
  }

  private deliver(changes: readonly Change[], cause: ChangeCause): void {
    this.book.status.lastChange = new Date().toISOString();
    this.safely(() => this.options.onChange?.(changes, this.objects, cause));
  }

  private setState(next: Partial<InformerState>): void {
    if (!this.book.setState(next)) return;
    const { synced, connected, reason } = this.book.status;
    this.safely(() => this.options.onState?.({ synced, connected, ...(reason === undefined ? {} : { reason }) }));
  }

  /** A consumer's exception must not stop the informer. */
  private safely(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.options.log.error({ path: this.options.path, err: errorMessage(err) }, 'kubernetes informer callback failed');
    }
  }
}

/** The server's cache is behind our resourceVersion (etcd restored, a lagging server): relist. */
function tooNew(err: unknown): boolean {
  return err instanceof KubeApiError && /too large resource version/i.test(err.message);
}

/** managedFields are the bulk of an object and no use to the agent: not kept. */
function slim(object: KubeObject): KubeObject {
  if (object.metadata.managedFields === undefined) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}
