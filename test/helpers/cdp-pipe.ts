/**
 * A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe`: Chromium reads
 * commands on its fd 3 and writes replies and events on fd 4, each a JSON message ended by a NUL
 * byte. No WebSocket (Node 20 has none without a flag), no port to pick or to leave open.
 */
import type { Readable, Writable } from 'node:stream';

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  method: string;
}

interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string; code: number };
}

type Listener = (params: Record<string, unknown>, sessionId: string | undefined) => void;

export class CdpPipe {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private buffered = '';
  private closedWith: Error | undefined;

  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => this.receive(chunk));
    output.on('close', () => this.fail(new Error('Chromium closed the DevTools pipe')));
    output.on('error', (err: Error) => this.fail(err));
    input.on('error', (err: Error) => this.fail(err));
  }

  /** Sends a command (to a page session when sessionId is given) and resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`CDP ${method}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) })}\0`);
    });
  }

  /** Resolves with the params of the next `method` event (of `sessionId`, when given). */
  once(method: string, sessionId: string | undefined, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const set = this.listeners.get(method) ?? new Set<Listener>();
      this.listeners.set(method, set);
      const timer = setTimeout(() => {
        set.delete(listener);
        reject(new Error(`CDP event ${method}: none in ${timeoutMs} ms`));
      }, timeoutMs);
      const listener: Listener = (params, from) => {
        if (sessionId !== undefined && from !== sessionId) return;
        clearTimeout(timer);
        set.delete(listener);
        resolve(params);
      };
      set.add(listener);
    });
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    let end = this.buffered.indexOf('\0');
    while (end >= 0) {
      const text = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + 1);
      end = this.buffered.indexOf('\0');
      let message: Message;
      try {
        message = JSON.parse(text) as Message;
      } catch {
        continue;
      }
      if (message.id !== undefined) {
        const waiting = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error !== undefined) waiting?.reject(new Error(`CDP ${waiting.method}: ${message.error.message}`));
        else waiting?.resolve(message.result ?? {});
      } else if (message.method !== undefined) {
        for (const listener of [...(this.listeners.get(message.method) ?? [])]) listener(message.params ?? {}, message.sessionId);
      }
    }
  }

  private fail(err: Error): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
