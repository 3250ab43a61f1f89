/**
 * Keeps a local copy of every key under an etcd prefix: list once, then watch from the listed
 * revision on a single stream. After a disconnect it resumes the watch from the last revision it
 * applied, with backoff; when that revision was compacted (flannel #2470) it re-lists and the
 * caller diffs the new snapshot. While etcd is unreachable the copy is kept as it was: an outage
 * never looks like "all keys deleted".
 */
import type { Etcd3, IWatchResponse } from 'etcd3';
import { WakeableSleep } from '../agent/wakeable-sleep.js';
import { AgentError, ErrorCode, errorMessage, isRefusal } from '../errors.js';
import type { Logger } from '../log.js';
import { backoffDelay } from './etcd-backoff.js';

/** One key's value and its etcd revisions (create: when the key was made; mod: its last write). */
export interface KeyValue {
  value: string;
  createRevision: string;
  modRevision: string;
}

export interface FollowerEvents {
  /** The copy changed (a snapshot or one watch response); `entries` is the live map, do not mutate. */
  onChange(entries: ReadonlyMap<string, KeyValue>, cause: 'list' | 'watch'): void;
  /** Connectivity changed; when not connected, `reason` says why and `error` is what failed. */
  onState(connected: boolean, reason?: string, error?: unknown): void;
  /** Called before each list, e.g. to (re)check the network config; throwing aborts that cycle. */
  beforeList?(): Promise<void>;
}

export interface FollowerStats {
  revision: string;
  lists: number;
  compactions: number;
  reconnects: number;
  watchResponses: number;
  lastError?: string;
}

class CompactedError extends AgentError {
  constructor(readonly compactRevision: string) {
    super(ErrorCode.WatchReset, `watch revision was compacted (compact revision ${compactRevision})`);
  }
}

class StoppedError extends AgentError {
  constructor() {
    super(ErrorCode.Cancelled, 'stopped');
  }
}

/** The etcd cluster was replaced or restored: revisions restarted, so re-list. */
class ClusterChangedError extends AgentError {
  constructor(message: string) {
    super(ErrorCode.WatchReset, message);
  }
}

/** The range_end that makes a key a prefix: the key with its last byte incremented. */
export function prefixRangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i -= 1) {
    const byte = end[i] ?? 0;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export class PrefixFollower {
  private readonly entries = new Map<string, KeyValue>();
  private revision = 0n;
  private clusterId = '';
  private needList = true;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private stopStream: (() => void) | undefined;
  private readonly pause = new WakeableSleep();
  private readonly stats: FollowerStats = { revision: '0', lists: 0, compactions: 0, reconnects: 0, watchResponses: 0 };

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly events: FollowerEvents,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopStream?.();
    this.pause.wake();
    await this.loop;
  }

  /** Cuts a reconnect delay short (etcd answered someone else in this process). */
  retryNow(): void {
    this.pause.wake();
  }

  snapshot(): ReadonlyMap<string, KeyValue> {
    return this.entries;
  }

  status(): FollowerStats {
    return { ...this.stats, revision: this.revision.toString() };
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        if (this.needList) await this.list();
        await this.watch(() => (attempt = 0));
      } catch (err) {
        if (this.stopped || err instanceof StoppedError) break;
        if (err instanceof ClusterChangedError) {
          this.needList = true;
          this.log.warn({ err: err.message }, 'etcd cluster changed; re-listing');
          continue;
        }
        if (err instanceof CompactedError) {
          // Resuming is impossible; a fresh list is the only correct state (flannel #2470 hot-looped here).
          this.stats.compactions += 1;
          this.needList = true;
          this.log.warn({ compactRevision: err.compactRevision, revision: this.revision.toString() }, 'etcd watch revision compacted; re-listing');
          continue;
        }
        this.stats.lastError = errorMessage(err);
        this.stats.reconnects += 1;
        // An AgentError is ours (e.g. a config mismatch) and says what to do; anything else is etcd.
        this.events.onState(false, isRefusal(err) ? this.stats.lastError : `etcd unreachable: ${this.stats.lastError}`, err);
        const delay = backoffDelay(attempt);
        attempt += 1;
        this.log.warn({ err: this.stats.lastError, retryInMs: delay }, 'etcd watch interrupted; keeping the last known leases');
        await this.pause.sleep(delay);
      }
    }
  }

  private async list(): Promise<void> {
    await this.events.beforeList?.();
    const res = await this.client.getAll().prefix(this.prefix).exec();
    this.entries.clear();
    for (const kv of res.kvs) this.entries.set(kv.key.toString(), { value: kv.value.toString(), createRevision: kv.create_revision, modRevision: kv.mod_revision });
    this.revision = BigInt(res.header.revision);
    this.clusterId = res.header.cluster_id;
    this.needList = false;
    this.stats.lists += 1;
    this.events.onChange(this.entries, 'list');
  }

  /** Runs one watch stream until it fails; resolves only when stopped. */
  private async watch(onCreated: () => void): Promise<void> {
    const stream = await this.client.watchClient.watch();
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        this.stopStream = undefined;
        try {
          stream.cancel();
        } catch {
          // already closed
        }
        if (err === undefined) resolve();
        else reject(err);
      };
      this.stopStream = () => finish(new StoppedError());
      if (this.stopped) {
        finish(new StoppedError());
        return;
      }
      stream.on('data', (res: IWatchResponse) => {
        try {
          this.onResponse(res, onCreated);
        } catch (err) {
          finish(err instanceof Error ? err : new AgentError(ErrorCode.EtcdUnavailable, String(err)));
        }
      });
      stream.on('error', (err: Error) => finish(err));
      stream.on('end', () => finish(new AgentError(ErrorCode.EtcdUnavailable, 'etcd closed the watch stream')));
      stream.write({
        create_request: {
          key: Buffer.from(this.prefix),
          range_end: prefixRangeEnd(this.prefix),
          start_revision: (this.revision + 1n).toString(),
          progress_notify: true,
        },
      });
    });
  }

  private onResponse(res: IWatchResponse, onCreated: () => void): void {
    // A new cluster's revisions start over: resuming from ours would silently skip its history.
    if (this.clusterId !== '' && res.header.cluster_id !== this.clusterId) {
      throw new ClusterChangedError(`cluster id ${res.header.cluster_id} differs from ${this.clusterId}`);
    }
    if (res.compact_revision !== undefined && res.compact_revision !== '0' && res.compact_revision !== '') {
      throw new CompactedError(res.compact_revision);
    }
    if (res.canceled) throw new AgentError(ErrorCode.EtcdUnavailable, `etcd canceled the watch${res.cancel_reason === '' ? '' : `: ${res.cancel_reason}`}`);
    if (res.created) {
      // The store is behind what we applied: etcd was restored or rebuilt, our revision is meaningless.
      if (BigInt(res.header.revision) < this.revision) {
        throw new ClusterChangedError(`etcd revision went back from ${this.revision.toString()} to ${res.header.revision}`);
      }
      onCreated();
      this.events.onState(true);
      return;
    }
    this.stats.watchResponses += 1;
    if (res.events.length === 0) {
      // A progress notification: nothing under the prefix changed up to this revision.
      const rev = BigInt(res.header.revision);
      if (rev > this.revision) this.revision = rev;
      return;
    }
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      if (ev.type === 'Put') this.entries.set(key, { value: ev.kv.value.toString(), createRevision: ev.kv.create_revision, modRevision: ev.kv.mod_revision });
      else this.entries.delete(key);
      // Only event revisions are safe to resume from: a catching-up watcher's header revision can be
      // ahead of events still to be sent.
      const rev = BigInt(ev.kv.mod_revision);
      if (rev > this.revision) this.revision = rev;
    }
    this.events.onChange(this.entries, 'watch');
  }
}
