/**
 * A watch response body is one JSON event per line. The splitter cuts bytes into lines (UTF-8 is
 * decoded per whole line, so a character split across chunks is safe) and refuses a line longer
 * than its bound; the decoder turns one line into a typed event or says why it cannot. Pure.
 */
import { statusOf, type KubeStatus } from './api-error.js';
import { checkObject, resourceVersionOf, type KubeObject } from './objects.js';
import { AgentError, ErrorCode } from '../errors.js';

export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject; key: string }
  | { type: 'BOOKMARK'; resourceVersion: string }
  | { type: 'ERROR'; status: KubeStatus };

/** A line that is no usable event: `fatal` when the stream itself is broken (not JSON, unknown type). */
export interface WatchProblem {
  problem: string;
  fatal: boolean;
  key?: string;
  resourceVersion?: string;
}

export type Decoded = { ok: true; event: WatchEvent } | ({ ok: false } & WatchProblem);

export class LineTooLongError extends AgentError {
  constructor(readonly limit: number) {
    super(ErrorCode.WatchReset, `a watch line exceeded ${limit} bytes`);
  }
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Set once a line exceeded the bound: the stream is unusable from there on. */
  overflowed = false;

  constructor(readonly maxLine: number) {}

  /**
   * The complete lines in `chunk` (with what was held before); empty lines are skipped. On a line
   * over the bound it returns the lines before it and sets `overflowed`.
   */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    if (this.overflowed) return lines;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      if (!this.hold(chunk.subarray(start, nl))) return lines;
      const line = (this.parts.length === 1 ? (this.parts[0] ?? Buffer.alloc(0)) : Buffer.concat(this.parts)).toString('utf8').trim();
      this.parts = [];
      this.size = 0;
      if (line !== '') lines.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
    return lines;
  }

  /** Bytes held after the last newline (a stream cut mid-line). */
  pending(): number {
    return this.size;
  }

  private hold(part: Buffer): boolean {
    this.size += part.length;
    if (this.size > this.maxLine) {
      this.parts = [];
      this.size = 0;
      this.overflowed = true;
      return false;
    }
    if (part.length > 0) this.parts.push(part);
    return true;
  }
}

export function decodeWatchLine(line: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, fatal: true, problem: `not JSON: ${JSON.stringify(line.slice(0, 80))}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, fatal: true, problem: 'not a JSON object' };
  const { type, object } = value as { type?: unknown; object?: unknown };
  switch (type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED': {
      const checked = checkObject(object);
      if (!checked.ok) {
        const { ok: _ok, ...rest } = checked;
        return { ok: false, fatal: false, ...rest, problem: `${type} event: ${checked.problem}` };
      }
      return { ok: true, event: { type, object: checked.object, key: checked.key } };
    }
    case 'BOOKMARK': {
      const rv = resourceVersionOf(object);
      if (rv === undefined) return { ok: false, fatal: false, problem: 'BOOKMARK event without metadata.resourceVersion' };
      return { ok: true, event: { type, resourceVersion: rv } };
    }
    case 'ERROR':
      return { ok: true, event: { type, status: statusOf(object) } };
    default:
      return { ok: false, fatal: true, problem: `unknown event type ${JSON.stringify(type)?.slice(0, 40) ?? 'undefined'}` };
  }
}
