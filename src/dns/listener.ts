/**
 * One `dns.listen` address: a UDP socket (the native batched one when it loads, else node:dgram;
 * see udp-batch.ts) and a TCP server (tcp-server.ts: capped per listener and per client address,
 * each connection bounded and timed out).
 */
import { formatHostPort, type HostPort } from '../net/host-port.js';
import type { Resolver } from './resolver.js';
import { TcpServer } from './tcp-server.js';
import { loadUdpBatch } from './udp-batch.js';
import { BatchUdpServer } from './udp-batch-server.js';
import { DgramUdpServer } from './udp-dgram-server.js';

export type UdpPath = 'batch' | 'dgram';

const SOCKET_BUFFER = 4 * 1024 * 1024;

export class Listener {
  private udp: BatchUdpServer | DgramUdpServer | undefined;
  private tcp: TcpServer | undefined;

  constructor(
    readonly address: HostPort,
    private readonly resolver: () => Resolver,
  ) {}

  get key(): string {
    return formatHostPort(this.address);
  }

  get tcpConnections(): number {
    return this.tcp?.size ?? 0;
  }

  /** TCP connections closed at accept (listener full, or their address over its cap). */
  get tcpRejected(): number {
    return this.tcp?.rejected ?? 0;
  }

  /** TCP connections closed by the idle timeout or the connection deadline. */
  get tcpExpired(): number {
    return this.tcp?.expired ?? 0;
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
    const tcp = new TcpServer(this.resolver);
    try {
      await tcp.listen(host, port);
    } catch (err) {
      await udp.stop();
      this.udp = undefined;
      throw err;
    }
    this.tcp = tcp;
  }

  async stop(): Promise<void> {
    this.foldNativeAnswers();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    await udp?.stop();
    await tcp?.close();
  }
}
