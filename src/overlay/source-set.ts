/**
 * One source's candidates by key, updated in place from each full delivery (pure): a registry
 * delivers its whole set on every change, so finding the one lease that changed among thousands
 * must cost a look-up per peer, with no allocation for the unchanged ones.
 */
import { candidateId } from './peer-claims.js';
import type { Candidate } from './peer-gate.js';
import type { Peer } from '../registry/peer-source.js';

interface Slot {
  /** source + key, made once: every map downstream is keyed by it. */
  id: string;
  c: Candidate;
  /** The peer object it was made from: the same object again is unchanged (sources reuse them). */
  from: Peer;
  /** The delivery that last reported it. */
  seen: number;
}

export class SourceSet {
  private readonly slots = new Map<string, Slot>();
  private generation = 0;

  constructor(private readonly source: string) {}

  get size(): number {
    return this.slots.size;
  }

  get(key: string): Candidate | undefined {
    return this.slots.get(key)?.c;
  }

  /** Every candidate with its id. */
  each(fn: (id: string, c: Candidate) => void): void {
    for (const slot of this.slots.values()) fn(slot.id, slot.c);
  }

  /**
   * Replaces the set with `peers` (a missing key is the subnet; a repeated one gets `#<index>`).
   * Returns the changed and new candidates by id, and vanished ids mapped to undefined.
   */
  deliver(peers: readonly Peer[]): Map<string, Candidate | undefined> {
    const gen = ++this.generation;
    const touched = new Map<string, Candidate | undefined>();
    let seen = 0;
    for (let i = 0; i < peers.length; i += 1) {
      const p = peers[i] as Peer;
      let key = p.key ?? p.subnet;
      let slot = this.slots.get(key);
      if (slot?.seen === gen) {
        key = `${key}#${i}`;
        slot = this.slots.get(key);
      }
      const order = p.order ?? i;
      if (slot === undefined || slot.seen !== gen) seen += 1;
      const c = slot?.c;
      if (slot !== undefined && slot.from === p && c?.order === order) {
        slot.seen = gen;
        continue;
      }
      if (c !== undefined && c.subnet === p.subnet && c.publicIP === p.publicIP && c.vtepMAC === p.vtepMAC && c.order === order && c.revision === p.revision && c.invalid === p.invalid) {
        (slot as Slot).seen = gen;
        (slot as Slot).from = p;
        continue;
      }
      // One object shape for every candidate (absent fields are undefined, not missing).
      const fresh: Candidate = { source: this.source, key, subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC, order, revision: p.revision, invalid: p.invalid };
      if (slot === undefined) {
        slot = { id: candidateId(this.source, key), c: fresh, from: p, seen: gen };
        this.slots.set(key, slot);
      } else {
        slot.c = fresh;
        slot.from = p;
        slot.seen = gen;
      }
      touched.set(slot.id, fresh);
    }
    if (seen !== this.slots.size) {
      for (const [key, slot] of this.slots) {
        if (slot.seen === gen) continue;
        this.slots.delete(key);
        touched.set(slot.id, undefined);
      }
    }
    return touched;
  }
}
