/**
 * Between the peer sources and the planner: each source's latest set, the host's facts, the peer
 * gate, the desired set it yields, and the refusals (logged once per revision, counted by
 * reason, listed in /status). A remote source that has not delivered since it started stands in
 * with its previous set (in memory after a reload, from stateDir after a restart) and `holding`
 * is true: the controller then removes nothing, so an unreachable registry never empties the VM.
 */
import type { Gauge } from 'prom-client';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { OverlayDetails } from '../status/status-document.js';
import { DesiredPeers, type PeerChange } from './desired-peers.js';
import { factsFingerprint } from './host-facts.js';
import { readLastPeers, writeLastPeers } from './last-peers-store.js';
import { ClaimBook, candidateId, type ClaimOutcome } from './peer-claims.js';
import { REFUSAL_REASONS, checkCandidate, prepareFacts, type Candidate, type LocalFacts, type Passed, type PreparedFacts, type Refusal } from './peer-gate.js';
import type { NetworkBounds, Peer, PeerSource } from '../registry/peer-source.js';
import { SourceSet } from './source-set.js';

export interface IntakeOptions {
  log: Logger;
  stateDir: string;
  refusedGauge: Gauge<'reason'>;
  /** Delay before a remote source's set is written to stateDir (writes coalesce). */
  saveDelayMs?: number;
}

/** The host-side facts (the network comes from the sources). */
export type HostSide = Omit<LocalFacts, 'network'>;

interface SourceState {
  name: string;
  remote: boolean;
  source: PeerSource | undefined;
  /** The delivered set by key, as candidates: what the next delivery is compared with. */
  set: SourceSet;
  /** Delivered a full set since this start (a source that is not remote always has). */
  delivered: boolean;
  network: NetworkBounds | undefined;
}

/** At most this many refusals are logged one by one per update; the rest in one line. */
const LOG_EACH = 50;
const STATUS_REFUSED = 50;

export class PeerIntake {
  readonly desired = new DesiredPeers();
  private states: SourceState[] = [];
  private host: HostSide = { addresses: [], connected: [], foreignRoutes: [] };
  private hostKey = '';
  private configNetwork: NetworkBounds | undefined;
  private prepared: PreparedFacts | undefined;
  private factsKey = '';
  private book = new ClaimBook(() => 0);
  /** Refusals of the per-candidate checks (claims are in the book), by candidate id. */
  private readonly checkRefused = new Map<string, Refusal>();
  private readonly logged = new Map<string, string>();
  private readonly saveTimers = new Map<string, NodeJS.Timeout>();
  private readonly saving = new Set<Promise<void>>();

  constructor(private readonly options: IntakeOptions) {}

  /** True while a remote source has not delivered a full set since it started. */
  get holding(): boolean {
    return this.states.some((s) => s.remote && !s.delivered);
  }

  /** Every current refusal, in source precedence then key order. */
  get refusals(): Refusal[] {
    const rank = this.rank();
    const all = [...this.checkRefused.values(), ...this.book.refusals.values()];
    return all.sort((a, b) => rank(a.source) - rank(b.source) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * The sources of a (re)start, in precedence order. A remote source new to this call keeps its
   * previous set until it delivers; after a restart that is the set persisted in stateDir.
   */
  async setSources(sources: readonly PeerSource[], configNetwork: string): Promise<void> {
    this.configNetwork = configNetwork === '' ? undefined : { network: configNetwork };
    const previous = new Map(this.states.map((s) => [s.name, s]));
    const states: SourceState[] = [];
    for (const source of sources) {
      const remote = source.remote === true;
      const prev = previous.get(source.name);
      const set = prev?.set ?? new SourceSet(source.name);
      let network = prev?.network;
      if (remote && prev === undefined) {
        const last = await readLastPeers(this.options.stateDir, source.name, (why) => this.options.log.warn({ source: source.name, why }, 'last peer set in stateDir not used'));
        if (last !== undefined) {
          set.deliver(last.peers);
          network = last.network;
          this.options.log.info({ source: source.name, peers: set.size }, 'last known peers loaded from stateDir until the source has listed');
        }
      }
      // A source that keeps running across the reload (the registry) keeps its delivered state.
      states.push({ name: source.name, remote, source, set, delivered: !remote || (prev?.source === source && prev.delivered), network });
    }
    this.states = states;
    // Source precedence may have changed: decide everything again.
    this.prepared = undefined;
  }

  /** A source's full current set. `synced` is true when this delivery ended the hold. */
  deliver(name: string, peers: readonly Peer[]): { changes: PeerChange[]; synced: boolean } {
    const state = this.states.find((s) => s.name === name);
    if (state === undefined) return { changes: [], synced: false };
    const wasHolding = this.holding;
    const touched = state.set.deliver(peers);
    state.delivered = true;
    state.network = state.source?.network?.() ?? state.network;
    // Many changes at once (a first listing) are decided faster all together than one component at a time.
    const bulk = touched.size > 64 && touched.size * 4 > this.candidateCount();
    const changes = this.refreshFacts() || bulk ? this.rebuild() : this.apply(touched);
    if (state.remote) this.scheduleSave(state);
    return { changes, synced: wasHolding && !this.holding };
  }

  /** This host's addresses, networks, foreign routes, own subnet and MAC; decides again only on a change. */
  setHost(host: HostSide): PeerChange[] {
    this.host = host;
    this.hostKey = factsFingerprint(host);
    return this.refreshFacts() ? this.rebuild() : [];
  }

  /** Decides every candidate again (the facts or the sources changed). */
  private rebuild(): PeerChange[] {
    this.refreshFacts();
    const rank = this.rank();
    this.book = new ClaimBook(rank);
    this.checkRefused.clear();
    const passed = new Map<string, Passed>();
    const facts = this.facts();
    for (const s of this.states) {
      s.set.each((id, c) => {
        const v = checkCandidate(c, facts);
        if (v.ok) passed.set(id, v);
        else this.checkRefused.set(id, v.refusal);
      });
    }
    this.book.load(passed);
    this.report([...this.checkRefused.values(), ...this.book.refusals.values()]);
    return this.desired.replace(this.book.acceptedPeers);
  }

  /** Decides the candidates of one source that changed (and whoever shares a claim with them). */
  private apply(touched: ReadonlyMap<string, Candidate | undefined>): PeerChange[] {
    if (touched.size === 0) return [];
    const changes = new Map<string, Passed | undefined>();
    const fresh: Refusal[] = [];
    for (const [id, c] of touched) {
      this.checkRefused.delete(id);
      const v = c === undefined ? undefined : checkCandidate(c, this.facts());
      if (v !== undefined && !v.ok) {
        this.checkRefused.set(id, v.refusal);
        fresh.push(v.refusal);
      }
      changes.set(id, v?.ok === true ? v : undefined);
    }
    const outcomes: ClaimOutcome[] = this.book.update(changes);
    for (const o of outcomes) if (o.refused !== undefined) fresh.push(o.refused);
    this.report(fresh);
    return this.desired.update(outcomes);
  }

  /** Prepares the gate's facts when they changed; true when everything must be decided again. */
  private refreshFacts(): boolean {
    const network = this.network();
    // The host side is fingerprinted once per kernel dump, the network (small) each time.
    const key = `${this.hostKey}\0${JSON.stringify(network ?? null)}`;
    if (this.prepared !== undefined && key === this.factsKey) return false;
    const facts: LocalFacts = { ...this.host, ...(network === undefined ? {} : { network }) };
    this.prepared = prepareFacts(facts);
    this.factsKey = key;
    return true;
  }

  private candidateCount(): number {
    return this.states.reduce((n, s) => n + s.set.size, 0);
  }

  private facts(): PreparedFacts {
    if (this.prepared === undefined) throw new AgentError(ErrorCode.Internal, 'facts not prepared');
    return this.prepared;
  }

  private rank(): (source: string) => number {
    const names = this.states.map((s) => s.name);
    return (source) => {
      const i = names.indexOf(source);
      return i < 0 ? names.length : i;
    };
  }

  /** The overlay's address plan: the first source that knows it, else overlay.network. */
  network(): NetworkBounds | undefined {
    for (const s of this.states) {
      const n = s.source?.network?.() ?? s.network;
      if (n !== undefined) return n;
    }
    return this.configNetwork;
  }

  status(): Pick<OverlayDetails, 'refused' | 'refusedCount' | 'holding'> {
    const refused = this.refusals;
    return {
      refused: refused.slice(0, STATUS_REFUSED).map((r) => ({ source: r.source, key: r.key, subnet: r.subnet, publicIP: r.publicIP, vtepMAC: r.vtepMAC, reason: r.reason, message: r.message, ...(r.revision === undefined ? {} : { revision: r.revision }) })),
      refusedCount: refused.length,
      ...(this.holding ? { holding: this.states.filter((s) => s.remote && !s.delivered).map((s) => s.name) } : {}),
    };
  }

  /** Writes pending peer sets now (on stop). */
  async flush(): Promise<void> {
    for (const [name, timer] of this.saveTimers) {
      clearTimeout(timer);
      const state = this.states.find((s) => s.name === name);
      if (state !== undefined) this.save(state);
    }
    this.saveTimers.clear();
    await Promise.all([...this.saving]);
  }

  /** Logs refusals not logged for this revision yet; recounts the gauge. */
  private report(candidatesToLog: readonly Refusal[]): void {
    const fresh: Refusal[] = [];
    for (const r of candidatesToLog) {
      const id = candidateId(r.source, r.key);
      const sig = `${r.revision ?? ''}\0${r.reason}`;
      if (this.logged.get(id) === sig) continue;
      this.logged.set(id, sig);
      fresh.push(r);
    }
    const counts = new Map<string, number>();
    const current = new Set<string>();
    for (const map of [this.checkRefused, this.book.refusals]) {
      for (const [id, r] of map) {
        current.add(id);
        counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
      }
    }
    for (const id of this.logged.keys()) if (!current.has(id)) this.logged.delete(id);
    for (const reason of REFUSAL_REASONS) this.options.refusedGauge.set({ reason }, counts.get(reason) ?? 0);
    for (const r of fresh.slice(0, LOG_EACH)) {
      this.options.log.warn({ source: r.source, key: r.key, subnet: r.subnet, publicIP: r.publicIP, vtepMAC: r.vtepMAC, revision: r.revision, reason: r.reason }, `peer refused: ${r.message}`);
    }
    if (fresh.length > LOG_EACH) this.options.log.warn({ more: fresh.length - LOG_EACH, total: current.size }, 'more peers refused (see /status)');
  }

  private scheduleSave(state: SourceState): void {
    if (this.saveTimers.has(state.name)) return;
    const timer = setTimeout(() => {
      this.saveTimers.delete(state.name);
      this.save(state);
    }, this.options.saveDelayMs ?? 1000);
    timer.unref();
    this.saveTimers.set(state.name, timer);
  }

  private save(state: SourceState): void {
    // What was programmed from this source: its accepted peers.
    const peers: Peer[] = [];
    for (const d of this.desired.peers.values()) {
      const c = d.source === state.name ? state.set.get(d.key) : undefined;
      if (c !== undefined) peers.push({ subnet: c.subnet, publicIP: c.publicIP, vtepMAC: c.vtepMAC, source: c.source, key: c.key, order: c.order, ...(c.revision === undefined ? {} : { revision: c.revision }) });
    }
    const network = state.source?.network?.() ?? state.network;
    const job = writeLastPeers(this.options.stateDir, state.name, { peers, ...(network === undefined ? {} : { network }) })
      .catch((err: unknown) => this.options.log.warn({ err: errorMessage(err), source: state.name }, 'could not keep the last peer set in stateDir'))
      .finally(() => this.saving.delete(job));
    this.saving.add(job);
  }
}
