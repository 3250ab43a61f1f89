/**
 * Strict reader for Istio's cluster.env / sidecar.env. istio-start.sh sources them with bash,
 * so quotes, `export` and comments are legal; anything bash would treat differently from a plain
 * assignment (expansions, stray words, unterminated quotes) is a problem naming file and line,
 * never silently skipped (util.parseEnv merges such lines into the next key): an error, or a
 * warning in a file root does not own (env-files.ts).
 */
import { ConfigError, ErrorCode, type ConfigIssue } from '../errors.js';

export interface EnvEntry {
  key: string;
  value: string;
  file: string;
  line: number;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export function parseEnvFile(text: string, file: string): Map<string, EnvEntry> {
  const { entries, issues } = parseEnvText(text, file);
  if (issues.length > 0) throw new ConfigError(issues, ErrorCode.EnvFileInvalid);
  return entries;
}

/** Every well-formed assignment, and a problem for each other line (the caller decides what they weigh). */
export function parseEnvText(text: string, file: string): { entries: Map<string, EnvEntry>; issues: ConfigIssue[] } {
  const entries = new Map<string, EnvEntry>();
  const issues: ConfigIssue[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const fail = (col: number, key: string, message: string): void => {
      issues.push({ file, line, col, key, message });
    };
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const body = trimmed.startsWith('export ') ? trimmed.slice(7).trimStart() : trimmed;
    const eq = body.indexOf('=');
    if (eq < 0) {
      fail(1, '', `expected KEY=VALUE, got "${truncate(trimmed)}"; fix or comment out the line`);
      return;
    }
    const key = body.slice(0, eq);
    if (!KEY.test(key)) {
      fail(1, key, 'not a valid variable name (letters, digits and _; no spaces around =)');
      return;
    }
    const parsed = parseValue(body.slice(eq + 1));
    if (typeof parsed !== 'string') {
      fail(raw.indexOf('=') + 2 + parsed.offset, key, parsed.error);
      return;
    }
    // Values flow into rules, addresses and child environments: a stray CR or NUL is never meant.
    const control = CONTROL.exec(parsed);
    if (control !== null) {
      fail(raw.indexOf('=') + 2, key, `control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} in the value; remove it`);
      return;
    }
    const previous = entries.get(key);
    if (previous !== undefined) {
      fail(1, key, `set again (first set on line ${previous.line}); keep one assignment`);
      return;
    }
    entries.set(key, { key, value: parsed, file, line });
  });
  return { entries, issues };
}

interface ValueError {
  error: string;
  offset: number;
}

function parseValue(rest: string): string | ValueError {
  let out = '';
  let i = 0;
  while (i < rest.length) {
    const ch = rest[i];
    if (ch === "'") {
      const end = rest.indexOf("'", i + 1);
      if (end < 0) return { error: 'unterminated single quote', offset: i };
      out += rest.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      let j = i + 1;
      let closed = false;
      while (j < rest.length) {
        const c = rest[j];
        if (c === '\\' && j + 1 < rest.length) {
          const next = rest[j + 1] ?? '';
          out += '"\\$`'.includes(next) ? next : `\\${next}`;
          j += 2;
        } else if (c === '"') {
          closed = true;
          break;
        } else if (c === '$' || c === '`') {
          return { error: 'shell expansion is not supported; write the value literally', offset: j };
        } else {
          out += c;
          j += 1;
        }
      }
      if (!closed) return { error: 'unterminated double quote', offset: i };
      i = j + 1;
    } else if (ch === '$' || ch === '`') {
      return { error: 'shell expansion is not supported; write the value literally', offset: i };
    } else if (ch === ' ' || ch === '\t') {
      const tail = rest.slice(i).trim();
      if (tail === '' || tail.startsWith('#')) break;
      return { error: 'unquoted space in value; quote the whole value', offset: i };
    } else if (ch === '\\') {
      out += rest[i + 1] ?? '';
      i += 2;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
