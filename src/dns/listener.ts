/**
 * One `dns.listen` address: a UDP socket (the native batched one when it loads, else node:dgram;
 * see udp-batch.ts) and a TCP server (RFC 7766 framing, pipelining,
 * out-of-order replies). TCP is bounded: at most MAX_TCP_CONNECTIONS at once, an idle timeout,
 * and a cap on queries outstanding per connection (reading pauses until replies drain).
 */
import net from 'node:net';
import { formatHostPort, type HostPort } from '../config/net-types.js';
import { ANSWER_LATER, MAX_MESSAGE, type Resolver } from './resolver.js';
import { loadUdpBatch } from './udp-batch.js';
import { BatchUdpServer } from './udp-batch-server.js';
import { DgramUdpServer } from './udp-dgram-server.js';

export type UdpPath = 'batch' | 'dgram';

export const MAX_TCP_CONNECTIONS = 128;
const TCP_IDLE_MS = 10_000;
const TCP_MAX_OUTSTANDING = 64;
const SOCKET_BUFFER = 4 * 1024 * 1024;

export class Listener {
  private udp: BatchUdpServer | DgramUdpServer | undefined;
  private tcp: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  /** Where synchronous answers to TCP queries are framed (two length bytes, then the message). */
  private readonly tcpScratch = Buffer.allocUnsafe(2 + MAX_MESSAGE);
  tcpRejected = 0;

  constructor(
    readonly address: HostPort,
    private readonly resolver: () => Resolver,
  ) {}

  get key(): string {
    return formatHostPort(this.address);
  }

  get tcpConnections(): number {
    return this.connections.size;
  }

  /** Which UDP implementation serves this listener (status field `listeners[].udp`). */
  get udpPath(): UdpPath {
    return this.udp instanceof BatchUdpServer ? 'batch' : 'dgram';
  }

  /** Whether repeats are answered by the addon's reply memo (status field `listeners[].memo`). */
  get memo(): boolean {
    return this.udp instanceof BatchUdpServer && this.udp.memo;
  }

  get memoAnswered(): number {
    return this.udp instanceof BatchUdpServer ? this.udp.memoAnswered : 0;
  }

  /** Brings the answers the addon gave by itself into the resolver's statistics. */
  foldNativeAnswers(): void {
    if (this.udp instanceof BatchUdpServer) {
      const resolver = this.resolver();
      this.udp.fold(resolver.stats, resolver.cache);
    }
  }

  async start(): Promise<void> {
    const { host, port } = this.address;
    const native = loadUdpBatch();
    const udp = native.addon !== undefined ? BatchUdpServer.start(native.addon, host, port, SOCKET_BUFFER, this.resolver) : await DgramUdpServer.start(host, port, SOCKET_BUFFER, this.resolver);
    this.udp = udp;
    const tcp = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    tcp.on('drop', () => {
      this.tcpRejected += 1;
    });
    tcp.on('error', () => {
      // Accept errors (EMFILE) must not kill the agent; new connections simply wait.
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host, port, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await udp.stop();
      this.udp = undefined;
      throw err;
    }
    this.tcp = tcp;
  }

  private accept(socket: net.Socket): void {
    this.connections.add(socket);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    let buffered: Buffer = Buffer.alloc(0);
    let outstanding = 0;
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    const drainFrames = (): void => {
      while (buffered.length >= 2 && outstanding < TCP_MAX_OUTSTANDING) {
        const len = (buffered[0]! << 8) | buffered[1]!;
        if (len === 0) {
          socket.destroy();
          return;
        }
        if (buffered.length < 2 + len) break;
        const frames = buffered;
        buffered = buffered.subarray(2 + len);
        outstanding += 1;
        const scratch = this.tcpScratch;
        const written = this.resolver().handle(frames, 2, 2 + len, true, scratch, 2, MAX_MESSAGE, (reply) => {
          outstanding -= 1;
          if (closed) return;
          const frame = Buffer.allocUnsafe(2 + reply.length);
          frame.writeUInt16BE(reply.length, 0);
          reply.copy(frame, 2);
          socket.write(frame);
          if (socket.isPaused() && outstanding < TCP_MAX_OUTSTANDING) {
            socket.resume();
            drainFrames();
          }
        });
        if (written > 0) {
          outstanding -= 1;
          // The scratch is reused by the next query: the write gets a copy of the frame.
          scratch.writeUInt16BE(written, 0);
          socket.write(Buffer.from(scratch.subarray(0, 2 + written)));
        } else if (written !== ANSWER_LATER) {
          outstanding -= 1;
        }
      }
      if (outstanding >= TCP_MAX_OUTSTANDING) socket.pause();
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      // A frame is at most 2 + 65535 bytes; more unprocessed data than a few frames is abuse.
      if (buffered.length > 4 * 65537) {
        socket.destroy();
        return;
      }
      drainFrames();
    });
  }

  async stop(): Promise<void> {
    this.foldNativeAnswers();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    await udp?.stop();
    if (tcp !== undefined) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }
}
