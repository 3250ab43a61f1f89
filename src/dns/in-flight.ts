/**
 * Forwarded queries waiting for their upstream answer, by name, so that an identical query joins the
 * one already out instead of going upstream again: one upstream query (one chance for a spoofer
 * to race) however many clients ask at once. Identical means what the cache would answer alike
 * (name, type, class, EDNS/DO/CD: cache.ts) asked of the same servers over the same transport; each
 * client still gets its own ID, its own spelling of the name and a reply fitted to its own size.
 * Keyed by the interned name the query was parsed into, so a lookup makes no string.
 */
import type { CacheKey } from './cache.js';
import type { Forwarder } from './forwarder.js';

export interface Coalescable<J> extends CacheKey {
  readonly tcp: boolean;
  readonly forwardTo: Forwarder;
  /** The next waiting query with the same name (the table's chain). */
  sameName: J | undefined;
}

function alike<J>(a: Coalescable<J>, b: Coalescable<J>): boolean {
  return a.qtype === b.qtype && a.qclass === b.qclass && a.cacheFlags === b.cacheFlags && a.tcp === b.tcp && a.forwardTo === b.forwardTo;
}

export class InFlightQueries<J extends Coalescable<J>> {
  private readonly byName = new Map<string, J>();

  /** The waiting query `job` is identical to, if any. */
  find(job: J): J | undefined {
    for (let j = this.byName.get(job.name); j !== undefined; j = j.sameName) {
      if (alike(j, job)) return j;
    }
    return undefined;
  }

  add(job: J): void {
    job.sameName = this.byName.get(job.name);
    this.byName.set(job.name, job);
  }

  /** Takes `job` out once it has its answer (a no-op if it is not in the table). */
  remove(job: J): void {
    const head = this.byName.get(job.name);
    if (head === job) {
      if (job.sameName === undefined) this.byName.delete(job.name);
      else this.byName.set(job.name, job.sameName);
    } else {
      for (let j = head; j !== undefined; j = j.sameName) {
        if (j.sameName === job) {
          j.sameName = job.sameName;
          break;
        }
      }
    }
    job.sameName = undefined;
  }

  get size(): number {
    return this.byName.size;
  }
}
