/**
 * The transports to one upstream server: a connected UDP socket (its own random source port) and
 * a pipelined TCP connection, each with its map of pending queries by ID. A reply settles a query
 * only for a pending ID with the same question; the socket being connected means only the
 * server's address can answer at all.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomId } from './random-ids.js';
import { HEADER, u16 } from './wire.js';

/**
 * A query waiting on one server. The forwarder's job is its own pending record: a query waits on
 * one transport at a time, so nothing is allocated per attempt.
 */
export interface UpstreamQuery {
  /** The query as sent: the client's bytes, with our ID (set by Upstream.query) while in flight. */
  readonly packet: Buffer;
  readonly questionEnd: number;
  /** Restored in the reply. */
  readonly clientId: number;
  /** Set by Upstream.query. */
  deadline: number;
  sentAt: number;
  /** The outcome of the attempt: a reply (client's ID restored) or an error. Called once per attempt. */
  onUpstream(err: Error | undefined, reply?: Buffer): void;
}

/** Tells the lane's server how an attempt went (health, round-trip time) before the query hears of it. */
export type SettleHook = (q: UpstreamQuery, err: Error | undefined) => void;

const TCP_IDLE_MS = 10_000;
const TCP_MAX_PENDING = 512;

export class UpstreamTimeout extends Error {
  constructor(server: string) {
    super(`no answer from ${server} in time`);
    this.name = 'UpstreamTimeout';
  }
}

function sameQuestion(a: Buffer, b: Buffer, end: number): boolean {
  if (b.length < end) return false;
  for (let i = HEADER; i < end; i++) {
    let x = a[i]!;
    let y = b[i]!;
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x !== y) return false;
  }
  return true;
}

function settle(map: Map<number, UpstreamQuery>, reply: Buffer, hook: SettleHook): void {
  if (reply.length < HEADER) return;
  const id = u16(reply, 0);
  const q = map.get(id);
  if (q === undefined || !sameQuestion(q.packet, reply, q.questionEnd)) return;
  map.delete(id);
  reply.writeUInt16BE(q.clientId, 0);
  hook(q, undefined);
  q.onUpstream(undefined, reply);
}

export function failAll(map: Map<number, UpstreamQuery>, err: Error, hook: SettleHook): void {
  const all = [...map.values()];
  map.clear();
  for (const q of all) fail(q, err, hook);
}

export function fail(q: UpstreamQuery, err: Error, hook: SettleHook): void {
  hook(q, err);
  q.onUpstream(err);
}

export function freeId(map: Map<number, UpstreamQuery>): number {
  for (;;) {
    const id = randomId();
    if (!map.has(id)) return id;
  }
}

export class UdpLane {
  readonly pending = new Map<number, UpstreamQuery>();
  private readonly socket: dgram.Socket;

  constructor(
    host: string,
    port: number,
    private readonly hook: SettleHook,
    onError: (err: Error) => void,
  ) {
    this.socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', lookup: (a, _o, cb) => cb(null, a, net.isIPv6(a) ? 6 : 4) });
    this.socket.on('message', (msg) => settle(this.pending, msg, hook));
    // ICMP port unreachable on a connected socket: the server is not there; fail fast.
    this.socket.on('error', (err) => {
      onError(err);
      failAll(this.pending, err, hook);
    });
    this.socket.connect(port, host);
  }

  /** Sends `q.packet` (its ID is `id`); the kernel has its own copy once this returns, unless the socket queues it. */
  send(q: UpstreamQuery, id: number): void {
    this.pending.set(id, q);
    try {
      this.socket.send(q.packet);
    } catch (err) {
      // Not connected yet: node queues sends until connect completes, so this is a real failure.
      this.pending.delete(id);
      fail(q, err instanceof Error ? err : new Error(String(err)), this.hook);
    }
  }

  close(): void {
    failAll(this.pending, new Error('upstream closed'), this.hook);
    this.socket.close();
  }
}

export class TcpLane {
  readonly pending = new Map<number, UpstreamQuery>();
  private socket: net.Socket | undefined;
  private buffered: Buffer = Buffer.alloc(0);
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly hook: SettleHook,
  ) {}

  send(q: UpstreamQuery, id: number): void {
    if (this.pending.size >= TCP_MAX_PENDING) {
      fail(q, new Error('too many queries on the upstream TCP connection'), this.hook);
      return;
    }
    this.pending.set(id, q);
    const socket = this.socket ?? this.open();
    const frame = Buffer.allocUnsafe(2 + q.packet.length);
    frame.writeUInt16BE(q.packet.length, 0);
    q.packet.copy(frame, 2);
    socket.write(frame);
    this.touch();
  }

  private open(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    this.socket = socket;
    this.buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 2) {
        const len = u16(this.buffered, 0);
        if (this.buffered.length < 2 + len) break;
        settle(this.pending, Buffer.from(this.buffered.subarray(2, 2 + len)), this.hook);
        this.buffered = this.buffered.subarray(2 + len);
      }
      this.touch();
    });
    const gone = (err?: Error): void => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearTimeout(this.idleTimer);
      failAll(this.pending, err ?? new Error(`TCP connection to ${this.host}:${this.port} closed`), this.hook);
    };
    socket.on('error', (err) => gone(err));
    socket.on('close', () => gone());
    return socket;
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.pending.size === 0) this.socket?.destroy();
      else this.touch();
    }, TCP_IDLE_MS);
    this.idleTimer.unref();
  }

  close(): void {
    clearTimeout(this.idleTimer);
    const socket = this.socket;
    this.socket = undefined;
    failAll(this.pending, new Error('upstream closed'), this.hook);
    socket?.destroy();
  }
}
