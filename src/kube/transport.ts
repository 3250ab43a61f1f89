/**
 * HTTPS to the API server on node:https: one keep-alive agent carrying the CA and client
 * certificate, a bearer token per request (re-read and retried once after a 401 when it comes
 * from a file), deadlines, bounded bodies, and failures as KubeApiError with the server's Status.
 */
import type { IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { KubeApiError, statusOf } from './api-error.js';
import type { TlsMaterial } from './credentials.js';
import type { TokenSource } from './token-source.js';

export interface TransportOptions {
  server: string;
  tls: TlsMaterial;
  tokens: TokenSource;
  /** Deadline of a request, and of a stream's response headers. */
  timeoutMs: number;
  userAgent: string;
  /** Largest response body read whole (a list page); default 64 MiB. */
  maxBodyBytes?: number;
}

export interface HttpRequest {
  method: string;
  /** Path and query, below the server URL's own path prefix. */
  path: string;
  body?: string;
  contentType?: string;
  signal?: AbortSignal;
}

export class Transport {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly prefix: string;

  constructor(private readonly options: TransportOptions) {
    this.url = new URL(options.server);
    this.prefix = this.url.pathname.replace(/\/+$/, '');
    // Watches hold a socket each; the rest share a few kept-alive ones.
    this.agent = new Agent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 32, maxFreeSockets: 4, scheduling: 'lifo', ...tlsOptions(options.tls) });
  }

  get server(): string {
    return this.options.server;
  }

  /** A whole JSON response; a non-2xx answer throws KubeApiError. */
  async json(req: HttpRequest): Promise<unknown> {
    return this.withRenewal(req, async () => {
      const res = await this.send(req, this.options.timeoutMs);
      const text = await readBody(res, this.options.maxBodyBytes ?? 64 * 1024 * 1024, req);
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        if ((res.statusCode ?? 0) < 300) throw new KubeApiError({ method: req.method, path: req.path, status: res.statusCode ?? 0, message: 'the response is not JSON' });
        body = undefined;
      }
      checkStatus(res, body, text, req);
      return body;
    });
  }

  /** A streaming response (a watch) once its headers are in; it is destroyed at `deadlineMs`. */
  async stream(req: HttpRequest, deadlineMs: number): Promise<IncomingMessage> {
    return this.withRenewal(req, async () => {
      const res = await this.send(req, deadlineMs);
      if ((res.statusCode ?? 0) >= 300) {
        const text = await readBody(res, 1024 * 1024, req);
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        checkStatus(res, body, text, req);
      }
      return res;
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private async withRenewal<T>(req: HttpRequest, attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (err) {
      // A rotated ServiceAccount token: the file may already hold the new one.
      if (!(err instanceof KubeApiError) || err.status !== 401 || !this.options.tokens.renewable || req.signal?.aborted === true) throw err;
      this.options.tokens.invalidate();
      return attempt();
    }
  }

  /**
   * Resolves with the response once its headers arrive. The request, and the body still to come,
   * is destroyed `deadlineMs` after it starts.
   */
  private async send(req: HttpRequest, deadlineMs: number): Promise<IncomingMessage> {
    const token = await this.options.tokens.token();
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.options.userAgent };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    if (req.body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(req.body));
    }
    const fail = (err: unknown): KubeApiError =>
      err instanceof KubeApiError ? err : new KubeApiError({ method: req.method, path: req.path, status: 0, message: `from ${this.options.server}: ${errorMessage(err)}` }, { cause: err });
    return new Promise<IncomingMessage>((resolve, reject) => {
      const r = httpsRequest({
        agent: this.agent,
        protocol: 'https:',
        hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
        port: this.url.port === '' ? 443 : Number(this.url.port),
        path: this.prefix + req.path,
        method: req.method,
        headers,
        ...(this.options.tls.servername === undefined ? {} : { servername: this.options.tls.servername }),
        ...(req.signal === undefined ? {} : { signal: req.signal }),
      });
      const timer = setTimeout(() => r.destroy(new AgentError(ErrorCode.KubeApiFailed, `timed out after ${deadlineMs} ms`)), deadlineMs);
      timer.unref();
      r.on('response', (res) => {
        res.on('close', () => clearTimeout(timer));
        resolve(res);
      });
      r.on('error', (err) => {
        clearTimeout(timer);
        reject(fail(err));
      });
      r.end(req.body);
    });
  }
}

function tlsOptions(tls: TlsMaterial): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  return { ...(tls.ca === undefined ? {} : { ca: tls.ca }), ...(tls.cert === undefined ? {} : { cert: tls.cert }), ...(tls.key === undefined ? {} : { key: tls.key }) };
}

function readBody(res: IncomingMessage, limit: number, req: HttpRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        res.destroy(new AgentError(ErrorCode.KubeApiFailed, `the response exceeded ${limit} bytes`));
        return;
      }
      parts.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    // Settled already when 'end' or 'error' came first; this catches a silent close mid-body.
    res.on('close', () => reject(new KubeApiError({ method: req.method, path: req.path, status: 0, message: 'the connection closed mid-response' })));
    res.on('error', (err) => reject(new KubeApiError({ method: req.method, path: req.path, status: res.statusCode ?? 0, message: `reading the response: ${errorMessage(err)}` }, { cause: err })));
  });
}

function checkStatus(res: IncomingMessage, body: unknown, text: string, req: HttpRequest): void {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return;
  const s = statusOf(body);
  const retry = Number(res.headers['retry-after']);
  throw new KubeApiError({
    method: req.method,
    path: req.path,
    status,
    reason: s.reason ?? res.statusMessage ?? '',
    ...(s.code === undefined ? {} : { code: s.code }),
    message: s.message ?? text.trim().slice(0, 300),
    ...(Number.isFinite(retry) && retry > 0 ? { retryAfter: Math.min(retry, 600) } : {}),
  });
}
