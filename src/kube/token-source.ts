/**
 * The bearer token of requests. A token file is re-read when its copy is older than `maxAgeMs`
 * (bound ServiceAccount tokens rotate: the kubelet or an operator's job rewrites the file) and
 * after a 401. A file that cannot be read keeps the last good token, so a rewrite in progress does
 * not fail requests. The token itself never reaches a log or an error message.
 */
import { readFile, stat } from 'node:fs/promises';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { describeOrigin, kubeConfigError, type TokenSpec } from './target.js';

export interface TokenSource {
  /** The current token, or undefined when the target has none. */
  token(): Promise<string | undefined>;
  /** The server refused the token (401): read the file again before the next request. */
  invalidate(): void;
  /** Whether invalidate() can change anything (a file can have been rotated; a literal cannot). */
  readonly renewable: boolean;
}

/** Characters a bearer token may hold (RFC 6750 b64token, which also covers JWTs). */
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Why `token` cannot be sent as a bearer token, or undefined (a newline would split the header). */
export function tokenProblem(token: string): string | undefined {
  if (token === '') return 'is empty';
  if (!TOKEN_CHARS.test(token)) return 'holds characters a bearer token cannot have (spaces, quotes or control characters)';
  return undefined;
}

export const DEFAULT_TOKEN_MAX_AGE_MS = 60_000;

export function createTokenSource(spec: TokenSpec | undefined, options: { maxAgeMs?: number; now?: () => number } = {}): TokenSource {
  if (spec === undefined) return { token: () => Promise.resolve(undefined), invalidate: () => undefined, renewable: false };
  if (spec.kind === 'static') {
    const checked = spec.value.trim();
    const problem = tokenProblem(checked);
    if (problem !== undefined) throw kubeConfigError(spec.origin, `the token ${problem}`);
    return { token: () => Promise.resolve(checked), invalidate: () => undefined, renewable: false };
  }
  return new FileTokenSource(spec.path, describeOrigin(spec.origin), spec.origin, options.maxAgeMs ?? DEFAULT_TOKEN_MAX_AGE_MS, options.now ?? Date.now);
}

class FileTokenSource implements TokenSource {
  readonly renewable = true;
  private cached: string | undefined;
  private readAt = 0;
  private mtimeMs = -1;
  private reading: Promise<string> | undefined;

  constructor(
    private readonly path: string,
    private readonly where: string,
    private readonly origin: TokenSpec['origin'],
    private readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {}

  token(): Promise<string> {
    if (this.cached !== undefined && this.now() - this.readAt < this.maxAgeMs) return Promise.resolve(this.cached);
    return (this.reading ??= this.read().finally(() => (this.reading = undefined)));
  }

  invalidate(): void {
    this.readAt = 0;
    this.mtimeMs = -1;
  }

  private async read(): Promise<string> {
    try {
      const info = await stat(this.path);
      if (this.cached !== undefined && info.mtimeMs === this.mtimeMs) {
        this.readAt = this.now();
        return this.cached;
      }
      const token = (await readFile(this.path, 'utf8')).trim();
      const problem = tokenProblem(token);
      if (problem !== undefined) throw new AgentError(ErrorCode.KubeConfigInvalid, `the file ${problem}`);
      this.cached = token;
      this.mtimeMs = info.mtimeMs;
      this.readAt = this.now();
      return token;
    } catch (err) {
      // Keep serving the last good token: the next request after maxAgeMs tries the file again.
      if (this.cached !== undefined) {
        this.readAt = this.now();
        return this.cached;
      }
      throw kubeConfigError(this.origin, `cannot use token file ${this.path}: ${errorMessage(err)}; ${this.where} must name a readable file holding the token`, err);
    }
  }
}
