/**
 * A failed API request: the HTTP status plus what the server's Status object said (reason, code,
 * message). Status 0 means no answer (connection refused, TLS failure, timeout). The message
 * names the method and path, never a header.
 */
import { AgentError, ErrorCode } from '../errors.js';

export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
}

export interface KubeApiErrorInit extends KubeStatus {
  method: string;
  path: string;
  status: number;
  /** Seconds, from a 429's or 503's Retry-After. */
  retryAfter?: number;
}

export class KubeApiError extends AgentError {
  readonly status: number;
  readonly reason: string;
  readonly kubeCode: number;
  readonly method: string;
  readonly path: string;
  readonly retryAfter: number | undefined;

  constructor(init: KubeApiErrorInit, options?: { cause?: unknown }) {
    const what = init.status === 0 ? 'no answer' : `${init.status}${init.reason === undefined || init.reason === '' ? '' : ` ${init.reason}`}`;
    super(ErrorCode.KubeApiFailed, `${init.method} ${init.path}: ${what}${init.message === undefined || init.message === '' ? '' : `: ${init.message}`}`, options);
    this.name = 'KubeApiError';
    this.status = init.status;
    this.reason = init.reason ?? '';
    this.kubeCode = init.code ?? init.status;
    this.method = init.method;
    this.path = init.path;
    this.retryAfter = init.retryAfter;
  }
}

/** The Status fields of a decoded body, if it is one (anything else yields {}). */
export function statusOf(body: unknown): KubeStatus {
  if (typeof body !== 'object' || body === null) return {};
  const b = body as Record<string, unknown>;
  const out: KubeStatus = {};
  if (typeof b.code === 'number' && Number.isInteger(b.code)) out.code = b.code;
  if (typeof b.reason === 'string') out.reason = b.reason.slice(0, 200);
  if (typeof b.message === 'string') out.message = b.message.slice(0, 1000);
  return out;
}

/** 410 Gone / reason Expired: the resourceVersion or continue token is too old; list again. */
export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status === 410 || err.kubeCode === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

export function isStatus(err: unknown, status: number): boolean {
  return err instanceof KubeApiError && err.status === status;
}
