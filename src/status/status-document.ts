/**
 * The /status document and /status/history, as types: the agent builds them, the status page
 * renders them, tests read them (test/helpers/status-client.ts). Type-only: no runtime code, so
 * any module may import it without an import cycle.
 *
 * Controller details are the controller's own (its status() result, spread into its section).
 */
import type { ReconcilerReport } from '../agent/reconciler.js';

export interface TimedMessage {
  message: string;
  at: string;
}

export type ControllerState = 'starting' | 'running' | 'failed' | 'stopping' | 'stopped';

/** A controller the config leaves off, or one enabled but not started yet. */
export interface InactiveSection {
  enabled: boolean;
  state: 'disabled' | 'not started';
}

/** The supervisor's fields for a controller it has started (the details follow). */
export interface ActiveSection {
  enabled: true;
  state: ControllerState;
  ready: boolean;
  reason?: string;
  errors: number;
  lastError?: TimedMessage;
  /** Set instead of the details when the controller's status() threw. */
  statusError?: string;
}

/** Details are absent while a controller could not be created, or when its status() threw. */
export type ControllerSection<D> = InactiveSection | (ActiveSection & Partial<D>);

export type IdentityDetails = {
  spiffeId: string;
  installedSpiffeId?: string;
  protocol: string;
  caAddress: string;
  certDir: string;
  certificate: 'valid' | 'missing' | 'unreadable' | 'expired' | 'other-identity' | 'untrusted';
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  issuedAt?: string;
  rotateAt?: string;
  nextRotation?: string;
  schedule: string;
  consecutiveFailures: number;
  lastError?: TimedMessage;
  lastRotation?: { at: string; serial: string; auth: string };
  certDirFindings?: { entry: string; problem: string; action: string; at: string }[];
};

export type CaptureDetails = {
  backend: string | null;
  rulesApplied: { ipv4: number; ipv6: number };
  verified: boolean;
  lastApply: string | null;
  lastVerify: string | null;
  lastDrift: string[];
  driftRepairs: number;
  captureErrors: number;
  lastCaptureError?: TimedMessage;
  /** When the failed pass is retried (ISO time), while one is pending. */
  nextRetry?: string;
  proxy: { user: string; uid: number; gid: number } | null;
  agent: { group: string; gid: number } | null;
  dns: { resolvConf: string | null; nameservers: string[]; skipped: string[] } | { enabled: false };
  inboundPortsNeverCaptured?: number[];
};

export interface DnsUpstreamHealth {
  server: string;
  healthy: boolean;
  consecutiveFailures: number;
  queries: number;
  failures: number;
  lastError?: string;
  rttMs?: number;
  caseEcho: string;
  caseMismatches: number;
}

export interface DnsListenerStatus {
  address: string;
  udp: 'batch' | 'dgram';
  memo: boolean;
  memoAnswered: number;
  tcp: true;
  tcpConnections: number;
  tcpRejected: number;
  tcpExpired: number;
}

export type DnsDetails = {
  listeners: DnsListenerStatus[];
  queries: number;
  bySource: Record<string, number>;
  byRcode: Record<string, number>;
  dropped: number;
  truncated: number;
  refusedOverload: number;
  coalesced: number;
  inFlight: number;
  cache: { size: number; capacity: number; hits: number; misses: number; hitRate: number };
  upstreams: { source: string; servers: string[]; health: DnsUpstreamHealth[] };
  hosts: number;
  mesh: { hosts: number; allocated: { host: string; vip: string | undefined }[]; loads: number; lastLoad: string | undefined; problems: { file: string; reason: string }[] };
};

/** One overlay peer (src/overlay/peer-list.ts): the first 200 in address order. */
export interface OverlayPeerRow {
  subnet: string;
  publicIP: string;
  vtepMAC: string;
  source: string;
  programmed: boolean;
  /** Why it is not programmed. */
  reason?: string;
}

/** A lease or static peer the peer gate refused, and why (src/overlay/peer-intake.ts). */
export interface OverlayRefusal {
  source: string;
  key: string;
  subnet: string;
  publicIP: string;
  vtepMAC: string;
  reason: string;
  message: string;
  revision?: string;
}

export type OverlayDetails = {
  device: {
    name: string;
    index?: number;
    up?: boolean;
    vni: number;
    port: number;
    mtu: number;
    mac: string;
    vtep: string;
    subnet?: string;
    underlay?: { name: string; address: string; mtu: number };
    lastActions: string[];
  } | null;
  peers: { desired: number; programmed: number; failed: string[]; list: OverlayPeerRow[] };
  /** The first 50 refusals; refusedCount counts them all. */
  refused: OverlayRefusal[];
  refusedCount: number;
  /** Remote sources not listed yet while their last peer set stands in. */
  holding?: string[];
  retrying: { entry: string; attempts: number; lastError: string; retryInMs: number }[];
  /** Each peer source's own status; `peers` is what it delivered. */
  sources: Record<string, { peers: number; connected?: boolean; reason?: string; [key: string]: unknown }>;
  lastResync: { at: string; ms: number; writes: number; trigger: string } | null;
  driftRepairs: number;
  eventMonitor: { running: boolean; restarts: number };
  /** The shared reconcile loop's record: passes, failures, the last pass and a pending retry. */
  reconcile: ReconcilerReport;
  reconcileErrors: number;
  lastReconcileError: TimedMessage | null;
};

export interface ControllerSections {
  identity: ControllerSection<IdentityDetails>;
  overlay: ControllerSection<OverlayDetails>;
  capture: ControllerSection<CaptureDetails>;
  dns: ControllerSection<DnsDetails>;
}

export type ControllerDetails = {
  identity: IdentityDetails;
  overlay: OverlayDetails;
  capture: CaptureDetails;
  dns: DnsDetails;
};

export interface StatusDocument {
  version: string;
  hostname: string;
  pid: number;
  uptimeSeconds: number;
  ready: boolean;
  config: {
    path: string;
    envFiles: string[];
    warnings?: string[];
    generation: number;
    lastReload?: { ok: boolean; at: string; error?: string };
  };
  controllers: ControllerSections;
  unhandledErrors: { count: number; last?: TimedMessage };
}

/** One point of /status/history: the rates over the interval that ended at `at`. */
export interface HistoryPoint {
  /** Unix time, ms. */
  at: number;
  /** DNS queries answered per second; null while the DNS proxy was not running. */
  dnsQps: number | null;
  /** Cache hits / (hits + misses) of forwardable queries; null when there was none. */
  dnsCacheHitRatio: number | null;
}

export interface StatusHistory {
  intervalSeconds: number;
  windowSeconds: number;
  points: HistoryPoint[];
}
