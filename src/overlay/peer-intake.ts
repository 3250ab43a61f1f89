/**
 * Between the peer sources and the planner: each source's latest set, the host's facts, the peer
 * gate, the desired set it yields, and the refusals (logged once per revision, counted by
 * reason, listed in /status). A remote source that has not delivered since it started stands in
 * with its previous set (in memory after a reload, from stateDir after a restart) and `holding`
 * is true: the controller then removes nothing, so an unreachable registry never empties the VM.
 */
import type { Gauge } from 'prom-client';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { DesiredPeers, type PeerChange } from './desired-peers.js';
import { factsFingerprint } from './host-facts.js';
import { readLastPeers, writeLastPeers } from './last-peers-store.js';
import { REFUSAL_REASONS, gatePrepared, prepareFacts, type Candidate, type LocalFacts, type NetworkBounds, type PreparedFacts, type Refusal, type Verdict } from './peer-gate.js';
import type { Peer, PeerSource } from './peer-source.js';

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
  peers: readonly Peer[];
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
  private configNetwork: NetworkBounds | undefined;
  private prepared: PreparedFacts | undefined;
  private factsKey = '';
  private readonly memo = new Map<string, Verdict>();
  private refused: Refusal[] = [];
  private readonly logged = new Map<string, string>();
  private readonly saveTimers = new Map<string, NodeJS.Timeout>();
  private readonly saving = new Set<Promise<void>>();

  constructor(private readonly options: IntakeOptions) {}

  /** True while a remote source has not delivered a full set since it started. */
  get holding(): boolean {
    return this.states.some((s) => s.remote && !s.delivered);
  }

  get refusals(): readonly Refusal[] {
    return this.refused;
  }

  /**
   * The sources of a (re)start, in precedence order. A remote source keeps its previous set until
   * it delivers; after a restart that is the set persisted in stateDir.
   */
  async setSources(sources: readonly PeerSource[], configNetwork: string): Promise<void> {
    this.configNetwork = configNetwork === '' ? undefined : { network: configNetwork };
    const previous = new Map(this.states.map((s) => [s.name, s]));
    const states: SourceState[] = [];
    for (const source of sources) {
      const remote = source.remote === true;
      const prev = previous.get(source.name);
      let peers = prev?.peers ?? [];
      let network = prev?.network;
      if (remote && prev === undefined) {
        const last = await readLastPeers(this.options.stateDir, source.name, (why) => this.options.log.warn({ source: source.name, why }, 'last peer set in stateDir not used'));
        if (last !== undefined) {
          peers = last.peers;
          network = last.network;
          this.options.log.info({ source: source.name, peers: peers.length }, 'last known peers loaded from stateDir until the source has listed');
        }
      }
      states.push({ name: source.name, remote, source, peers, delivered: !remote, network });
    }
    this.states = states;
  }

  /** A source's full current set. `synced` is true when this delivery ended the hold. */
  deliver(name: string, peers: readonly Peer[]): { changes: PeerChange[]; synced: boolean } {
    const state = this.states.find((s) => s.name === name);
    if (state === undefined) return { changes: [], synced: false };
    const wasHolding = this.holding;
    state.peers = peers;
    state.delivered = true;
    state.network = state.source?.network?.() ?? state.network;
    const changes = this.regate();
    if (state.remote) this.scheduleSave(state);
    return { changes, synced: wasHolding && !this.holding };
  }

  /** This host's addresses, networks, foreign routes, own subnet and MAC; regates only on a change. */
  setHost(host: HostSide): PeerChange[] {
    this.host = host;
    return this.regate();
  }

  /** Gates every source's candidates again and updates the desired set. */
  regate(): PeerChange[] {
    const facts: LocalFacts = { ...this.host, ...(this.network() === undefined ? {} : { network: this.network() }) };
    const key = factsFingerprint(facts);
    if (this.prepared === undefined || key !== this.factsKey) {
      this.prepared = prepareFacts(facts);
      this.factsKey = key;
      this.memo.clear();
    }
    const candidates: Candidate[] = [];
    for (const s of this.states) {
      s.peers.forEach((p, i) => {
        candidates.push({ source: s.name, key: p.key ?? `${s.name}:${p.subnet}`, subnet: p.subnet, publicIP: p.publicIP, vtepMAC: p.vtepMAC, order: p.order ?? i, ...(p.revision === undefined ? {} : { revision: p.revision }), ...(p.invalid === undefined ? {} : { invalid: p.invalid }) });
      });
    }
    if (this.memo.size > 2 * candidates.length + 1024) this.memo.clear();
    const result = gatePrepared(candidates, this.prepared, this.states.map((s) => s.name), this.memo);
    this.report(result.refused);
    return this.desired.replace(result.accepted);
  }

  /** The overlay's address plan: the first source that knows it, else overlay.network. */
  network(): NetworkBounds | undefined {
    for (const s of this.states) {
      const n = s.source?.network?.() ?? s.network;
      if (n !== undefined) return n;
    }
    return this.configNetwork;
  }

  status(): Record<string, unknown> {
    return {
      refused: this.refused.slice(0, STATUS_REFUSED).map((r) => ({ source: r.source, key: r.key, subnet: r.subnet, publicIP: r.publicIP, vtepMAC: r.vtepMAC, reason: r.reason, message: r.message, ...(r.revision === undefined ? {} : { revision: r.revision }) })),
      refusedCount: this.refused.length,
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

  private report(refused: Refusal[]): void {
    this.refused = refused;
    const counts = new Map<string, number>();
    const now = new Set<string>();
    const fresh: Refusal[] = [];
    for (const r of refused) {
      counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
      const id = `${r.source}\0${r.key}`;
      now.add(id);
      const sig = `${r.revision ?? ''}\0${r.reason}`;
      if (this.logged.get(id) !== sig) {
        this.logged.set(id, sig);
        fresh.push(r);
      }
    }
    for (const id of this.logged.keys()) if (!now.has(id)) this.logged.delete(id);
    for (const reason of REFUSAL_REASONS) this.options.refusedGauge.set({ reason }, counts.get(reason) ?? 0);
    for (const r of fresh.slice(0, LOG_EACH)) {
      this.options.log.warn({ source: r.source, key: r.key, subnet: r.subnet, publicIP: r.publicIP, vtepMAC: r.vtepMAC, revision: r.revision, reason: r.reason }, `peer refused: ${r.message}`);
    }
    if (fresh.length > LOG_EACH) this.options.log.warn({ more: fresh.length - LOG_EACH, total: refused.length }, 'more peers refused (see /status)');
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
    const byKey = new Map(state.peers.map((p) => [p.key ?? `${state.name}:${p.subnet}`, p]));
    const peers: Peer[] = [];
    for (const d of this.desired.peers.values()) {
      const p = d.source === state.name ? byKey.get(d.key) : undefined;
      if (p !== undefined) peers.push(p);
    }
    const network = state.source?.network?.() ?? state.network;
    const job = writeLastPeers(this.options.stateDir, state.name, { peers, ...(network === undefined ? {} : { network }) })
      .catch((err: unknown) => this.options.log.warn({ err: errorMessage(err), source: state.name }, 'could not keep the last peer set in stateDir'))
      .finally(() => this.saving.delete(job));
    this.saving.add(job);
  }
}
