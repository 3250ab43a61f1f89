/**
 * One TCP client connection (RFC 7766: two-byte framing, pipelining, replies in any order), bounded
 * so a client costs the agent little whatever it does:
 * - backpressure: frames are read only while the replies not yet taken by the kernel stay under the
 *   socket's writable high-water mark (Node's default, 16 KiB: write() says to wait for 'drain') and
 *   fewer than TCP_MAX_OUTSTANDING forwarded queries wait; otherwise reading stops (the kernel's
 *   buffers fill and the client's writes block) until replies drain;
 * - unprocessed input is at most TCP_MAX_BUFFERED (a few maximum frames): more is abuse;
 * - `activeTick` notes the last complete query (not the last byte), for the listener's idle sweep;
 * - a zero-length frame ends the connection after the replies already written.
 */
import type net from 'node:net';
import { QueryContext } from './query-context.js';
import { ANSWER_LATER, MAX_MESSAGE, type Resolver } from './resolver.js';

/** Forwarded queries of one connection waiting at once. */
export const TCP_MAX_OUTSTANDING = 64;
/** Unprocessed input, bytes: four maximum-size frames. */
export const TCP_MAX_BUFFERED = 4 * (2 + MAX_MESSAGE);

const EMPTY = Buffer.alloc(0);

/** What a connection shares with its listener. */
export interface TcpShared {
  resolver(): Resolver;
  /** Where synchronous answers are framed (two length bytes, then the message); used only during process(). */
  readonly scratch: Buffer;
  /** The listener's coarse clock (sweeps so far). */
  readonly tick: number;
}

export class TcpConnection {
  /** Sweep tick of the last complete query (or of the accept). */
  activeTick: number;
  readonly openedTick: number;
  private buffered: Buffer = EMPTY;
  /** Start of the first unprocessed frame in `buffered`. */
  private at = 0;
  private outstanding = 0;
  private readEnded = false;
  private closed = false;
  private processing = false;
  /** Every query of the connection goes to the resolver in this one context (answers framed in the scratch). */
  private readonly ctx: QueryContext;

  constructor(
    readonly socket: net.Socket,
    private readonly shared: TcpShared,
  ) {
    this.activeTick = this.openedTick = shared.tick;
    this.ctx = new QueryContext({ tcp: true, out: shared.scratch, at: 2, room: MAX_MESSAGE, respond: this.respond });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.process());
    socket.on('end', () => {
      this.readEnded = true;
      this.process();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Closes at once (idle, past the deadline, abuse, listener stopping). */
  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const rest = this.buffered.length - this.at;
    this.buffered = rest === 0 ? chunk : Buffer.concat([this.buffered.subarray(this.at), chunk]);
    this.at = 0;
    if (this.buffered.length > TCP_MAX_BUFFERED) {
      this.destroy();
      return;
    }
    this.process();
  }

  /** A forwarded answer (or one too big for the scratch): its own frame. */
  private readonly respond = (reply: Buffer): void => {
    this.outstanding -= 1;
    if (this.closed) return;
    const frame = Buffer.allocUnsafe(2 + reply.length);
    frame.writeUInt16BE(reply.length, 0);
    reply.copy(frame, 2);
    this.socket.write(frame);
    if (!this.processing) this.process();
  };

  /** Answers the complete frames while the bounds allow, then reads on, pauses, or ends. */
  private process(): void {
    if (this.closed || this.processing) return;
    this.processing = true;
    const socket = this.socket;
    // One writev for all the answers of this pass instead of one write each.
    socket.cork();
    try {
      this.answerFrames();
    } finally {
      socket.uncork();
      this.processing = false;
    }
    if (this.closed) return;
    const held = this.outstanding >= TCP_MAX_OUTSTANDING || socket.writableNeedDrain;
    if (held) socket.pause();
    else if (this.readEnded) {
      // The client has sent all it will: finish once every reply is out (a frame cut short is dropped).
      if (this.outstanding === 0) this.finish();
    } else if (socket.isPaused()) socket.resume();
  }

  private answerFrames(): void {
    const socket = this.socket;
    const { scratch } = this.shared;
    const resolver = this.shared.resolver();
    const buf = this.buffered;
    while (buf.length - this.at >= 2 && this.outstanding < TCP_MAX_OUTSTANDING && !socket.writableNeedDrain) {
      const start = this.at;
      const len = (buf[start]! << 8) | buf[start + 1]!;
      if (len === 0) {
        this.finish();
        return;
      }
      if (buf.length - start < 2 + len) break;
      this.at = start + 2 + len;
      this.activeTick = this.shared.tick;
      this.outstanding += 1;
      const written = resolver.handle(this.ctx.request(buf, start + 2, start + 2 + len));
      if (this.closed) return;
      if (written > 0) {
        this.outstanding -= 1;
        // The scratch is reused by the next query: the write gets a copy of the frame.
        scratch.writeUInt16BE(written, 0);
        socket.write(Buffer.from(scratch.subarray(0, 2 + written)));
      } else if (written !== ANSWER_LATER) {
        this.outstanding -= 1;
      }
    }
    if (this.at === buf.length) {
      this.buffered = EMPTY;
      this.at = 0;
    }
  }

  /** No more reading: the replies written so far go out, then FIN; later answers are dropped. */
  private finish(): void {
    this.closed = true;
    this.socket.pause();
    this.socket.end();
  }
}
