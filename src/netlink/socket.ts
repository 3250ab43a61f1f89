/**
 * One rtnetlink request socket with a bounded window of requests in flight. The `netlink`
 * package's native code aborts the whole process (a C++ terminate no JS handler catches) when
 * recvmsg reports ENOBUFS, so acknowledgements must never overflow the receive buffer: the window
 * times a worst-case ack size stays far below the buffer we ask for. Dumps run on a socket of
 * their own, one at a time, because the package groups multipart replies per socket and a
 * request acknowledged in the middle of a dump would split it.
 */
import { createRtNetlink, FlagsGet, type RtNetlinkSocket, type rt } from 'netlink';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';

export interface RtSocketOptions {
  /** Requests in flight at most (default 64). */
  window?: number;
  /** Per-request timeout in ms (default 5000): a lost ack must not hang the caller. */
  timeoutMs?: number;
}

/** SO_RCVBUF we ask for; the kernel caps it at net.core.rmem_max, the window keeps us safe anyway. */
const RECV_BUFFER = 4 * 1024 * 1024;

/** A kernel answer for one object, e.g. `neighbour 10.234.0.0 on flannel.1: EEXIST`. */
export class NetlinkError extends AgentError {
  readonly errno: string;
  constructor(what: string, errno: string, cause?: unknown) {
    super(ErrorCode.NetlinkFailed, `${what}: ${errno}`, { cause });
    this.name = 'NetlinkError';
    this.errno = errno;
  }
}

export function errnoOf(err: unknown): string {
  if (err instanceof NetlinkError) return err.errno;
  const m = /Request rejected: (\w+)/.exec(errorMessage(err));
  return m?.[1] ?? 'EIO';
}

export class RtSocket {
  private readonly requests: RtNetlinkSocket;
  private dumper: RtNetlinkSocket | undefined;
  private readonly window: number;
  private readonly timeoutMs: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private dumpChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Requests and dumps sent, for metrics. */
  sent = 0;
  dumps = 0;

  constructor(options: RtSocketOptions = {}) {
    this.window = options.window ?? 64;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.requests = openSocket();
  }

  /** Sends one request once a window slot is free; errors name `what`. */
  async request<T>(what: string, send: (s: RtNetlinkSocket, opts: { timeout: number }) => Promise<T>): Promise<T> {
    if (this.closed) throw new NetlinkError(what, 'ECLOSED');
    // A released slot is handed to the oldest waiter, so requests go out in call order.
    if (this.inFlight < this.window) this.inFlight += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.sent += 1;
    try {
      return await send(this.requests, { timeout: this.timeoutMs });
    } catch (err) {
      throw new NetlinkError(what, errnoOf(err), err);
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.inFlight -= 1;
      else next();
    }
  }

  /** Runs a dump (flags DUMP added) on the dump socket, serialized with other dumps. */
  dump(what: string, type: rt.MessageType, payload: Uint8Array[]): Promise<rt.Message[]> {
    const run = async (): Promise<rt.Message[]> => {
      if (this.closed) throw new NetlinkError(what, 'ECLOSED');
      this.dumper ??= openSocket();
      this.dumps += 1;
      try {
        return await this.dumper.request(type, payload, { flags: FlagsGet.DUMP, timeout: 30_000 });
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
    this.requests.socket.close();
    this.dumper?.socket.close();
    for (const wake of this.waiting.splice(0)) wake();
  }
}

function openSocket(): RtNetlinkSocket {
  const s = createRtNetlink();
  try {
    s.socket.setRecvBufferSize(RECV_BUFFER);
  } catch {
    // capped or refused: the bounded window alone keeps acknowledgements in the default buffer
  }
  s.socket.on('error', () => undefined);
  return s;
}
