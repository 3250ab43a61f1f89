/**
 * The UDP side of a listener on node:dgram: one 'message' event and one send per datagram. The
 * fallback when the native batched socket (udp-batch.ts) is unavailable or MNA_DNS_UDP=dgram.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { QueryContext } from './query-context.js';
import { MAX_MESSAGE, type Resolver } from './resolver.js';

export class DgramUdpServer {
  private open = true;

  private constructor(private readonly socket: dgram.Socket) {}

  /** Binds host:port; rejects with dgram's bind error (EADDRINUSE, EACCES...). */
  static async start(host: string, port: number, bufferBytes: number, resolver: () => Resolver): Promise<DgramUdpServer> {
    const v6 = net.isIPv6(host);
    // Replies go to IP literals: skip dgram's per-send dns.lookup round through nextTick.
    const udp = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', lookup: (a, _o, cb) => cb(null, a, v6 ? 6 : 4) });
    const server = new DgramUdpServer(udp);
    // Synchronous answers are written here, then copied: a send completes after this handler returns.
    const scratch = Buffer.allocUnsafe(MAX_MESSAGE);
    const ctx = new QueryContext({ tcp: false, out: scratch, room: scratch.length, respond: () => {} });
    udp.on('message', (msg, rinfo) => {
      // This path makes a Buffer and an rinfo per datagram anyway: a closure per query is in keeping.
      ctx.respond = (reply) => {
        // A forwarded answer can arrive after stop() closed the socket; it has nowhere to go.
        if (server.open) udp.send(reply, rinfo.port, rinfo.address);
      };
      const written = resolver().handle(ctx.request(msg, 0, msg.length));
      if (written > 0) udp.send(Buffer.from(scratch.subarray(0, written)), rinfo.port, rinfo.address);
    });
    udp.on('error', () => {
      // Send errors to vanished clients are not our problem; the socket stays open.
    });
    const bound = once(udp, 'listening');
    udp.bind({ port, address: host, exclusive: true });
    await bound;
    try {
      udp.setRecvBufferSize(bufferBytes);
      udp.setSendBufferSize(bufferBytes);
    } catch {
      // Capped by net.core.rmem_max; the default works, just with less burst room.
    }
    return server;
  }

  async stop(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
