/**
 * The TCP side of one listener. No client can take more than its share: at most
 * MAX_TCP_CONNECTIONS connections, at most MAX_TCP_PER_SOURCE from one client address (a
 * connection over either cap is closed at accept and counted in `rejected`), and each connection is
 * bounded by tcp-connection.ts. A sweep once a second, run only while connections are open, closes
 * those idle for TCP_IDLE_MS (no complete query: dribbled bytes do not count) and those open
 * longer than TCP_DEADLINE_MS whatever they do (counted in `expired`).
 */
import net from 'node:net';
import { MAX_MESSAGE, type Resolver } from './resolver.js';
import { TcpConnection, type TcpShared } from './tcp-connection.js';

export const MAX_TCP_CONNECTIONS = 128;
/** Connections from one client address. On a loopback listener every local client is one address. */
export const MAX_TCP_PER_SOURCE = 32;
/** Without a complete query for this long a connection is closed. */
export const TCP_IDLE_MS = 10_000;
/** Whole-connection deadline: clients reconnect, which re-applies the caps. */
export const TCP_DEADLINE_MS = 30_000;
const SWEEP_MS = 1000;

export class TcpServer implements TcpShared {
  readonly scratch = Buffer.allocUnsafe(2 + MAX_MESSAGE);
  tick = 0;
  /** Connections closed at accept: listener full, or their address over its cap. */
  rejected = 0;
  /** Connections closed by the idle timeout or the deadline. */
  expired = 0;
  private server: net.Server | undefined;
  private readonly connections = new Set<TcpConnection>();
  private readonly perSource = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(readonly resolver: () => Resolver) {}

  get size(): number {
    return this.connections.size;
  }

  async listen(host: string, port: number): Promise<void> {
    // allowHalfOpen: a client may send its queries, shut down its side and still read the replies.
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    server.maxConnections = MAX_TCP_CONNECTIONS;
    server.on('drop', () => {
      this.rejected += 1;
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {
      // Accept errors (EMFILE) must not kill the agent; new connections simply wait.
    });
    this.server = server;
  }

  private accept(socket: net.Socket): void {
    const source = socket.remoteAddress;
    const fromSource = source === undefined ? MAX_TCP_PER_SOURCE : (this.perSource.get(source) ?? 0);
    if (source === undefined || fromSource >= MAX_TCP_PER_SOURCE) {
      this.rejected += 1;
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.perSource.set(source, fromSource + 1);
    const connection = new TcpConnection(socket, this);
    this.connections.add(connection);
    socket.on('close', () => {
      this.connections.delete(connection);
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left > 0) this.perSource.set(source, left);
      else this.perSource.delete(source);
      if (this.connections.size === 0) this.stopSweeping();
    });
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  private sweep(): void {
    this.tick += 1;
    const idle = TCP_IDLE_MS / SWEEP_MS;
    const deadline = TCP_DEADLINE_MS / SWEEP_MS;
    for (const c of this.connections) {
      if (this.tick - c.activeTick >= idle || this.tick - c.openedTick >= deadline) {
        this.expired += 1;
        c.destroy();
      }
    }
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  async close(): Promise<void> {
    this.stopSweeping();
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    this.perSource.clear();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
