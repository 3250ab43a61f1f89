/**
 * TCP to one upstream server: one pipelined connection, opened on demand and closed after
 * TCP_IDLE_MS without traffic, with its pending queries by ID. Used for TCP clients and to retry a
 * truncated UDP reply. The question goes out as the client wrote it (TCP is not open to off-path
 * spoofing) and a reply must repeat it, letter case aside.
 */
import net from 'node:net';
import { CASE_ONLY, SAME, compareQuestion } from './name-case.js';
import { answer, fail, failAll, isReplyTo, prepareWire, type SettleHook, type UpstreamQuery } from './upstream-query.js';
import { u16 } from './wire.js';
import { AgentError, ErrorCode } from '../errors.js';

const TCP_IDLE_MS = 10_000;
const TCP_MAX_PENDING = 512;

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

  send(q: UpstreamQuery): void {
    if (this.pending.size >= TCP_MAX_PENDING) {
      fail(q, new AgentError(ErrorCode.DnsUpstreamFailed, 'too many queries on the upstream TCP connection'), this.hook);
      return;
    }
    let id = prepareWire(q);
    while (this.pending.has(id)) id = prepareWire(q);
    this.pending.set(id, q);
    const socket = this.socket ?? this.open();
    const frame = Buffer.allocUnsafe(2 + q.wire.length);
    frame.writeUInt16BE(q.wire.length, 0);
    q.wire.copy(frame, 2);
    socket.write(frame);
    this.touch();
  }

  private settle(reply: Buffer): void {
    if (reply.length < 2) return;
    const id = u16(reply, 0);
    const q = this.pending.get(id);
    if (q === undefined || !isReplyTo(reply, id)) return;
    const match = compareQuestion(q.wire, reply, q.questionEnd);
    if (match !== SAME && match !== CASE_ONLY) return;
    this.pending.delete(id);
    answer(q, reply, this.hook);
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
        this.settle(Buffer.from(this.buffered.subarray(2, 2 + len)));
        this.buffered = this.buffered.subarray(2 + len);
      }
      this.touch();
    });
    const gone = (err?: Error): void => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearTimeout(this.idleTimer);
      failAll(this.pending, err ?? new AgentError(ErrorCode.DnsUpstreamFailed, `TCP connection to ${this.host}:${this.port} closed`), this.hook);
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

  /** Times out overdue queries. */
  sweep(now: number, timeout: (q: UpstreamQuery) => Error): void {
    for (const [id, q] of this.pending) {
      if (q.deadline > now) continue;
      this.pending.delete(id);
      fail(q, timeout(q), this.hook);
    }
  }

  close(): void {
    clearTimeout(this.idleTimer);
    const socket = this.socket;
    this.socket = undefined;
    failAll(this.pending, new AgentError(ErrorCode.DnsUpstreamFailed, 'upstream closed'), this.hook);
    socket?.destroy();
  }
}
