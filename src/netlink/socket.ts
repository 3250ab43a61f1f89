/**
 * One rtnetlink socket for writes, one for dumps. The `netlink` package's native code aborts the
 * whole process (a C++ terminate no JS handler catches) when recvmsg reports ENOBUFS, so replies
 * must never overflow the receive buffer: every request that can still produce a reply holds a
 * unit of a bounded budget, and the budget times a worst-case reply stays far below even the
 * kernel's default buffer.
 *
 * Writes are pipelined in chunks: one datagram carries a chunk of requests; only the chunk's last
 * request asks for an ACK. The kernel handles a socket's requests in order and always reports
 * errors, so when that last ACK arrives every error of the chunk has arrived before it, and the
 * requests without one succeeded. Dumps run on their own socket, one at a time, because the
 * package groups multipart replies per socket and an ACK in the middle of a dump would split it.
 */
import { getSystemErrorName } from 'node:util';
import { Flags, FlagsGet, createRtNetlink, parseError, type NetlinkMessage, type RtNetlinkSocket, type rt } from 'netlink';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { NLMSG_HDRLEN, align4, writeHeader } from './encode.js';

/** A write, checked but not yet encoded; `what` names the object in errors. */
export interface WriteRequest {
  /** Built only when an error needs it: thousands of requests go out per resync. */
  what: () => string;
  type: rt.MessageType;
  /** NLM_F_CREATE/REPLACE/... (REQUEST and ACK are added as needed). */
  flags: number;
  /** Body length in bytes (after the netlink header, 4-byte aligned). */
  size: number;
  /** Writes the body at `at` of a zeroed buffer; never throws (inputs were checked when it was made). */
  write(buf: Buffer, at: number): void;
}

export interface RtSocketOptions {
  /** Requests that may still produce a reply, at most (default: what the receive buffer holds). */
  budget?: number;
  /** Requests per datagram (default: half the budget). */
  chunk?: number;
  /** Timeout for a reply in ms (default 5000): a lost reply must not hang the caller. */
  timeoutMs?: number;
}

/** SO_RCVBUF we ask for; the kernel caps it at net.core.rmem_max. */
const RECV_BUFFER = 4 * 1024 * 1024;
/**
 * Receive-buffer bytes reserved per reply: an error reply echoes the request and costs well under
 * 1 KiB of skb truesize; twice that leaves room for the notifications nobody asked for.
 */
const BYTES_PER_REPLY = 2048;
const NLMSG_ERROR = 2;
const MAX_CHUNK = 256;

/** A kernel answer for one object, e.g. `neighbour 10.234.0.0 on flannel.1: EEXIST`. */
export class NetlinkError extends AgentError {
  readonly errno: string;
  constructor(what: string, errno: string, cause?: unknown) {
    super(ErrorCode.NetlinkFailed, `${what}: ${errno}`, cause === undefined ? undefined : { cause });
    this.name = 'NetlinkError';
    this.errno = errno;
  }
}

export function errnoOf(err: unknown): string {
  if (err instanceof NetlinkError) return err.errno;
  const m = /Request rejected: (\w+)/.exec(errorMessage(err));
  return m?.[1] ?? 'EIO';
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `errno ${-errno}`;
  }
}

interface Chunk {
  requests: WriteRequest[];
  results: (NetlinkError | undefined)[];
  seqs: number[];
  done: () => void;
}

export class RtSocket {
  private readonly writer: RtNetlinkSocket;
  private dumper: RtNetlinkSocket | undefined;
  private readonly budget: number;
  private readonly chunkSize: number;
  private readonly timeoutMs: number;
  private used = 0;
  private readonly waiting: { units: number; wake: () => void }[] = [];
  private readonly bySeq = new Map<number, { chunk: Chunk; index: number }>();
  private dumpChain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: RtSocketOptions = {}) {
    this.writer = openSocket();
    // The kernel answers a whole datagram before we read anything: size the budget to the buffer
    // we actually got (about 200 replies with the kernel's default rmem_max, 512 at most).
    const rcvbuf = this.writer.socket.getRecvBufferSize();
    this.budget = options.budget ?? Math.max(32, Math.min(512, Math.floor(rcvbuf / BYTES_PER_REPLY)));
    // A datagram must also fit the send buffer (EMSGSIZE): 256 small messages are ~20 KiB.
    this.chunkSize = Math.max(1, Math.min(options.chunk ?? Math.floor(this.budget / 2), this.budget, MAX_CHUNK));
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.writer.socket.on('message', (msgs) => this.onReplies(msgs));
  }

  /** Sends writes pipelined, in order; resolves with one error (or undefined) per request. */
  batch(requests: readonly WriteRequest[]): Promise<(NetlinkError | undefined)[]> {
    return this.batchOf(requests.length, (i) => requests[i] as WriteRequest);
  }

  /**
   * Like batch, but request i is built by `make(i)` only when its chunk is about to go out, so
   * a resync of thousands of objects never holds all their encoded messages at once.
   */
  async batchOf(count: number, make: (index: number) => WriteRequest): Promise<(NetlinkError | undefined)[]> {
    const chunks: Promise<(NetlinkError | undefined)[]>[] = [];
    for (let i = 0; i < count; i += this.chunkSize) {
      const from = i;
      const to = Math.min(count, i + this.chunkSize);
      chunks.push(this.sendChunk(to - from, (k) => make(from + k)));
    }
    return (await Promise.all(chunks)).flat();
  }

  /** Requests that may await a reply at once, and requests per datagram (status, tests). */
  get limits(): { budget: number; chunk: number } {
    return { budget: this.budget, chunk: this.chunkSize };
  }

  /** One write; rejects with a NetlinkError naming the object. */
  async write(request: WriteRequest): Promise<void> {
    const [err] = await this.batch([request]);
    if (err !== undefined) throw err;
  }

  /** A request with a reply (a single GET), through the package's request path. */
  async request<T>(what: string, send: (s: RtNetlinkSocket, opts: { timeout: number }) => Promise<T>): Promise<T> {
    if (this.closed) throw new NetlinkError(what, 'ECLOSED');
    await this.acquire(1);
    try {
      return await send(this.writer, { timeout: this.timeoutMs });
    } catch (err) {
      throw new NetlinkError(what, errnoOf(err), err);
    } finally {
      this.release(1);
    }
  }

  /** Runs a dump (flags DUMP added) on the dump socket, serialized with other dumps. */
  dump(what: string, type: rt.MessageType, payload: Uint8Array[]): Promise<rt.Message[]> {
    return this.serialDump(what, (d) => d.request(type, payload, { flags: FlagsGet.DUMP, timeout: 30_000 }));
  }

  /** A dump whose replies come back undecoded (message bodies), for the hand-written decoders. */
  dumpRaw(what: string, type: rt.MessageType, payload: Uint8Array[]): Promise<Buffer[]> {
    return this.serialDump(what, async (d) => {
      const [msgs] = await d.socket.request(type, payload, { flags: FlagsGet.DUMP, timeout: 30_000 });
      // Every RTM_GETx is answered with RTM_NEWx, two below it.
      return msgs.filter((m) => m.type === type - 2).map((m) => m.data);
    });
  }

  private serialDump<T>(what: string, fn: (d: RtNetlinkSocket) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new NetlinkError(what, 'ECLOSED');
      this.dumper ??= openSocket();
      try {
        return await fn(this.dumper);
      } catch (err) {
        // A timed-out dump leaves the socket mid-stream: start the next one on a fresh socket.
        this.dumper.socket.close();
        this.dumper = undefined;
        throw new NetlinkError(what, errnoOf(err), err);
      }
    };
    const result = this.dumpChain.then(run, run);
    this.dumpChain = result.catch(() => undefined);
    return result;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.socket.close();
    this.dumper?.socket.close();
    for (const w of this.waiting.splice(0)) w.wake();
    for (const { chunk } of this.bySeq.values()) chunk.done();
  }

  private async sendChunk(count: number, make: (k: number) => WriteRequest): Promise<(NetlinkError | undefined)[]> {
    const closedError = (): (NetlinkError | undefined)[] => Array.from({ length: count }, (_, k) => new NetlinkError(make(k).what(), 'ECLOSED'));
    if (this.closed) return closedError();
    await this.acquire(count);
    if (this.closed) return closedError();
    const requests = Array.from({ length: count }, (_, k) => make(k));
    const nl = this.writer.socket;
    const port = nl.address().port;
    return new Promise((resolve) => {
      const chunk: Chunk = {
        requests,
        results: requests.map(() => undefined),
        seqs: [],
        done: () => {
          clearTimeout(timer);
          for (const seq of chunk.seqs) this.bySeq.delete(seq);
          this.release(requests.length);
          resolve(chunk.results);
        },
      };
      // One zeroed buffer per datagram; each message padded so the next starts aligned.
      let total = 0;
      for (const r of requests) total += align4(NLMSG_HDRLEN + r.size);
      const datagram = Buffer.alloc(total);
      let at = 0;
      requests.forEach((r, index) => {
        const seq = nl.generateSeq();
        chunk.seqs.push(seq);
        this.bySeq.set(seq, { chunk, index });
        const last = index === requests.length - 1;
        const len = NLMSG_HDRLEN + r.size;
        writeHeader(datagram, at, len, r.type, r.flags | Flags.REQUEST | (last ? Flags.ACK : 0), seq, port);
        r.write(datagram, at + NLMSG_HDRLEN);
        at += align4(len);
      });
      const timer = setTimeout(() => {
        chunk.results = chunk.results.map((e, i) => e ?? new NetlinkError(requests[i]?.what() ?? 'request', 'ETIMEDOUT'));
        chunk.done();
      }, this.timeoutMs);
      // One buffer per datagram: the native side wraps each array element separately.
      nl.socket.send(datagram, {}, (err) => {
        if (err === undefined) return;
        chunk.results = requests.map((r) => new NetlinkError(r.what(), err.code));
        chunk.done();
      });
    });
  }

  private onReplies(msgs: NetlinkMessage[]): void {
    for (const msg of msgs) {
      if (msg.type !== NLMSG_ERROR) continue;
      const entry = this.bySeq.get(msg.seq);
      if (entry === undefined) continue;
      const { chunk, index } = entry;
      const { errno } = parseError(msg.data, msg.flags);
      if (errno !== 0) chunk.results[index] = new NetlinkError(chunk.requests[index]?.what() ?? 'request', errnoName(errno));
      if (index === chunk.requests.length - 1) chunk.done();
    }
  }

  private acquire(units: number): Promise<void> {
    if (this.waiting.length === 0 && this.used + units <= this.budget) {
      this.used += units;
      return Promise.resolve();
    }
    return new Promise((wake) => this.waiting.push({ units, wake }));
  }

  private release(units: number): void {
    this.used -= units;
    // Hand units to waiters in order, so requests go out in call order.
    while (this.waiting.length > 0 && this.used + (this.waiting[0]?.units ?? 0) <= this.budget) {
      const next = this.waiting.shift();
      if (next === undefined) break;
      this.used += next.units;
      next.wake();
    }
  }
}

function openSocket(): RtNetlinkSocket {
  const s = createRtNetlink();
  try {
    s.socket.setRecvBufferSize(RECV_BUFFER);
  } catch {
    // capped or refused: the bounded budget alone keeps replies within the default buffer
  }
  s.socket.on('error', () => undefined);
  return s;
}
