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

export type UpstreamCallback = (err: Error | undefined, reply?: Buffer) => void;

export interface Pending {
  /** The query as sent upstream (our ID): its question is compared with the reply's. */
  sent: Buffer;
  questionEnd: number;
  clientId: number;
  deadline: number;
  callback: UpstreamCallback;
}

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

function settle(map: Map<number, Pending>, reply: Buffer): void {
  if (reply.length < HEADER) return;
  const id = u16(reply, 0);
  const p = map.get(id);
  if (p === undefined || !sameQuestion(p.sent, reply, p.questionEnd)) return;
  map.delete(id);
  reply.writeUInt16BE(p.clientId, 0);
  p.callback(undefined, reply);
}

export function failAll(map: Map<number, Pending>, err: Error): void {
  const all = [...map.values()];
  map.clear();
  for (const p of all) p.callback(err);
}

export function freeId(map: Map<number, Pending>): number {
  for (;;) {
    const id = randomId();
    if (!map.has(id)) return id;
  }
}

export class UdpLane {
  readonly pending = new Map<number, Pending>();
  private readonly socket: dgram.Socket;

  constructor(host: string, port: number, onError: (err: Error) => void) {
    this.socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', lookup: (a, _o, cb) => cb(null, a, net.isIPv6(a) ? 6 : 4) });
    this.socket.on('message', (msg) => settle(this.pending, msg));
    // ICMP port unreachable on a connected socket: the server is not there; fail fast.
    this.socket.on('error', (err) => {
      onError(err);
      failAll(this.pending, err);
    });
    this.socket.connect(port, host);
  }

  send(p: Pending, id: number): void {
    this.pending.set(id, p);
    try {
      this.socket.send(p.sent);
    } catch (err) {
      // Not connected yet: node queues sends until connect completes, so this is a real failure.
      this.pending.delete(id);
      p.callback(err instanceof Error ? err : new Error(String(err)));
    }
  }

  close(): void {
    failAll(this.pending, new Error('upstream closed'));
    this.socket.close();
  }
}

export class TcpLane {
  readonly pending = new Map<number, Pending>();
  private socket: net.Socket | undefined;
  private buffered: Buffer = Buffer.alloc(0);
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  send(p: Pending, id: number): void {
    if (this.pending.size >= TCP_MAX_PENDING) {
      p.callback(new Error('too many queries on the upstream TCP connection'));
      return;
    }
    this.pending.set(id, p);
    const socket = this.socket ?? this.open();
    const frame = Buffer.allocUnsafe(2 + p.sent.length);
    frame.writeUInt16BE(p.sent.length, 0);
    p.sent.copy(frame, 2);
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
        settle(this.pending, Buffer.from(this.buffered.subarray(2, 2 + len)));
        this.buffered = this.buffered.subarray(2 + len);
      }
      this.touch();
    });
    const gone = (err?: Error): void => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearTimeout(this.idleTimer);
      failAll(this.pending, err ?? new Error(`TCP connection to ${this.host}:${this.port} closed`));
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
    failAll(this.pending, new Error('upstream closed'));
    socket?.destroy();
  }
}
