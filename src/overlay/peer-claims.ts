/**
 * The gate's claims kept current incrementally (pure): a registry delivers its whole set on every
 * change, and re-deciding thousands of claims for one changed lease would cost milliseconds per
 * event. Candidates that share a subnet range, a VTEP MAC or a public IP form a conflict
 * component; an update re-runs the gate's own claim rule (peer-gate.ts `claim`) on the components
 * of the changed candidates only. Every other decision stands: no claim crosses components.
 */
import { claim, compareCandidates, type GatedPeer, type Passed, type Refusal } from './peer-gate.js';

interface Entry {
  id: string;
  v: Passed;
}

/** What became of one candidate: accepted, refused by a claim, or neither (removed, or a duplicate). */
export interface ClaimOutcome {
  id: string;
  accepted?: GatedPeer;
  refused?: Refusal;
}

export function candidateId(source: string, key: string): string {
  return `${source}\0${key}`;
}

/** A map to one entry, rarely more (a claim contested): no collection per key in the usual case. */
class Index<K> {
  private readonly one = new Map<K, Entry>();
  private readonly more = new Map<K, Entry[]>();

  get size(): number {
    return this.one.size;
  }

  add(key: K, e: Entry): void {
    if (!this.one.has(key)) this.one.set(key, e);
    else this.more.set(key, [...(this.more.get(key) ?? []), e]);
  }

  remove(key: K, e: Entry): void {
    const extra = this.more.get(key);
    if (this.one.get(key) === e) {
      const next = extra?.shift();
      if (next === undefined) this.one.delete(key);
      else this.one.set(key, next);
    } else if (extra !== undefined) {
      const i = extra.indexOf(e);
      if (i >= 0) extra.splice(i, 1);
    }
    if (extra?.length === 0) this.more.delete(key);
  }

  each(key: K, fn: (e: Entry) => void): void {
    const e = this.one.get(key);
    if (e === undefined) return;
    fn(e);
    for (const x of this.more.get(key) ?? []) fn(x);
  }

  /** Every key with its entries (the mixed-length subnet scan). */
  eachKey(fn: (key: K) => void): void {
    for (const key of this.one.keys()) fn(key);
  }
}

export class ClaimBook {
  private readonly entries = new Map<string, Entry>();
  /** prefix length → network address → entries: overlap look-ups per length present. */
  private readonly bySubnet = new Map<number, Index<number>>();
  private readonly byMac = new Index<string>();
  private readonly byIp = new Index<string>();
  private readonly accepted = new Map<string, GatedPeer>();
  private readonly refused = new Map<string, Refusal>();
  private readonly cmp: (a: GatedPeer, b: GatedPeer) => number;

  constructor(rank: (source: string) => number) {
    this.cmp = compareCandidates(rank);
  }

  get acceptedPeers(): ReadonlyMap<string, GatedPeer> {
    return this.accepted;
  }

  get refusals(): ReadonlyMap<string, Refusal> {
    return this.refused;
  }

  /** Decides a whole set into an empty book (start, or the facts changed): one sort, one pass. */
  load(all: ReadonlyMap<string, Passed>): void {
    const entries: Entry[] = [];
    for (const [id, v] of all) {
      const e: Entry = { id, v };
      this.index(e);
      entries.push(e);
    }
    const refused: Refusal[] = [];
    const sorted = entries.sort((a, b) => this.cmp(a.v.peer, b.v.peer));
    const ids = new Map(sorted.map((e) => [e.v.peer, e.id]));
    for (const p of claim(sorted.map((e) => e.v), refused)) this.accepted.set(ids.get(p) ?? '', p);
    for (const r of refused) this.refused.set(candidateId(r.source, r.key), r);
  }

  /**
   * Sets candidates (by id; undefined removes one) and re-decides their components. Returns the
   * outcome of every candidate whose outcome changed.
   */
  update(changes: ReadonlyMap<string, Passed | undefined>): ClaimOutcome[] {
    const seeds: Entry[] = [];
    for (const [id, v] of changes) {
      const old = this.entries.get(id);
      if (old !== undefined) {
        this.unindex(old);
        // Whoever shared a claim with the old version may win now.
        this.neighbours(old, (n) => seeds.push(n));
      }
      if (v === undefined) continue;
      const e: Entry = { id, v };
      this.index(e);
      seeds.push(e);
    }
    const out = this.decideAll([...this.closure(seeds)]);
    for (const [id, v] of changes) if (v === undefined) this.decide(id, undefined, undefined, out);
    return out;
  }

  /** Runs the gate's claim rule over `component` (closed under shared claims) and records the outcomes. */
  private decideAll(component: Entry[]): ClaimOutcome[] {
    const sorted = component.sort((a, b) => this.cmp(a.v.peer, b.v.peer));
    const refusedNow: Refusal[] = [];
    const acceptedNow = new Set(claim(sorted.map((e) => e.v), refusedNow));
    const refusedById = new Map(refusedNow.map((r) => [candidateId(r.source, r.key), r]));
    const out: ClaimOutcome[] = [];
    for (const e of sorted) this.decide(e.id, acceptedNow.has(e.v.peer) ? e.v.peer : undefined, refusedById.get(e.id), out);
    return out;
  }

  private decide(id: string, accepted: GatedPeer | undefined, refused: Refusal | undefined, out: ClaimOutcome[]): void {
    const wasAccepted = this.accepted.get(id);
    const wasRefused = this.refused.get(id);
    if (accepted === undefined) this.accepted.delete(id);
    else this.accepted.set(id, accepted);
    if (refused === undefined) this.refused.delete(id);
    else this.refused.set(id, refused);
    if (wasAccepted !== accepted || wasRefused?.message !== refused?.message || wasRefused?.revision !== refused?.revision) {
      out.push({ id, ...(accepted === undefined ? {} : { accepted }), ...(refused === undefined ? {} : { refused }) });
    }
  }

  private index(e: Entry): void {
    this.entries.set(e.id, e);
    let atLength = this.bySubnet.get(e.v.range.prefix);
    if (atLength === undefined) {
      atLength = new Index<number>();
      this.bySubnet.set(e.v.range.prefix, atLength);
    }
    atLength.add(e.v.range.first, e);
    this.byMac.add(e.v.peer.vtepMAC, e);
    this.byIp.add(e.v.peer.publicIP, e);
  }

  private unindex(e: Entry): void {
    this.entries.delete(e.id);
    const atLength = this.bySubnet.get(e.v.range.prefix);
    if (atLength !== undefined) {
      atLength.remove(e.v.range.first, e);
      if (atLength.size === 0) this.bySubnet.delete(e.v.range.prefix);
    }
    this.byMac.remove(e.v.peer.vtepMAC, e);
    this.byIp.remove(e.v.peer.publicIP, e);
  }

  /** Calls `fn` for the entries sharing a claim with `e` (its subnet range, MAC or public IP). */
  private neighbours(e: Entry, fn: (n: Entry) => void): void {
    const { first, last, prefix } = e.v.range;
    for (const [len, held] of this.bySubnet) {
      if (len <= prefix) {
        const size = 2 ** (32 - len);
        held.each(Math.floor(first / size) * size, fn);
      } else {
        // Longer subnets inside ours: only a static table without a network mixes lengths.
        held.eachKey((start) => {
          if (start >= first && start <= last) held.each(start, fn);
        });
      }
    }
    this.byMac.each(e.v.peer.vtepMAC, fn);
    this.byIp.each(e.v.peer.publicIP, fn);
  }

  private closure(seeds: readonly Entry[]): Set<Entry> {
    const seen = new Set<Entry>();
    const todo = [...seeds];
    const push = (n: Entry): void => {
      if (!seen.has(n)) todo.push(n);
    };
    while (todo.length > 0) {
      const e = todo.pop() as Entry;
      if (seen.has(e) || this.entries.get(e.id) !== e) continue;
      seen.add(e);
      this.neighbours(e, push);
    }
    return seen;
  }
}
