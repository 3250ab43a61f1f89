/**
 * The fast path for config YAML: a line reader for the plain block style configs are written in
 * (mappings, sequences, single-line scalars and flow collections, comments), without positions.
 * The full parser (yaml-source.ts) builds a syntax tree with a position for every node: for a
 * config with thousands of static peers that tree is most of the start-up time.
 *
 * It returns what the full parser's toJS() would (scalars resolved by the YAML 1.2 core schema),
 * or undefined for anything it does not fully understand: anchors, aliases, tags, block or
 * multi-line scalars, complex or non-string keys, duplicate or forbidden keys, tabs, CR, escapes
 * beyond the common ones, and every error. Undefined means "ask the full parser", which then
 * reports problems with their positions. Pure.
 */
import { AgentError, ErrorCode } from '../errors.js';
import { FORBIDDEN_KEYS } from './key-guard.js';

/** Tabs, CR, a BOM, control characters, surrogates, non-characters: left to the full parser. */
// eslint-disable-next-line no-control-regex
const UNUSUAL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]/;

interface Line {
  indent: number;
  text: string;
}

/** Thrown (and caught below) wherever the input leaves the subset. */
const BAIL = new AgentError(ErrorCode.Internal, 'outside the fast YAML subset');

function bail(): never {
  throw BAIL;
}

export function parseYamlFast(source: string): Record<string, unknown> | undefined {
  try {
    return parseDocumentText(source);
  } catch (err) {
    if (err === BAIL) return undefined;
    throw err;
  }
}

function parseDocumentText(source: string): Record<string, unknown> {
  if (UNUSUAL.test(source)) bail();
  const lines: Line[] = [];
  let started = false;
  for (const raw of source.split('\n')) {
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent += 1;
    const text = raw.slice(indent);
    if (text === '' || text.startsWith('#')) continue;
    if (indent === 0 && (text.startsWith('---') || text.startsWith('...') || text.startsWith('%'))) {
      // A document start alone on the first line is harmless; anything else (a second document,
      // directives, content after the marker) goes to the full parser.
      if (started || !/^---\s*(#.*)?$/.test(text)) bail();
      started = true;
      continue;
    }
    started = true;
    lines.push({ indent, text: trimEnd(text) });
  }
  if (lines.length === 0) return {};
  const reader = new Reader(lines);
  const first = lines[0];
  if (first === undefined || isSeqItem(first.text)) bail();
  const value = reader.map(first.indent);
  if (!reader.done()) bail();
  return value;
}

function isSeqItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

class Reader {
  private at = 0;

  constructor(private readonly lines: Line[]) {}

  done(): boolean {
    return this.at >= this.lines.length;
  }

  private peek(): Line | undefined {
    return this.lines[this.at];
  }

  /** A block mapping whose keys sit at `indent`; `first` is its first entry, already split (a "- key: value" line). */
  map(indent: number, first?: Entry): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (first !== undefined) this.entry(out, first, indent);
    for (let line = this.peek(); line !== undefined && line.indent >= indent; line = this.peek()) {
      if (line.indent > indent || isSeqItem(line.text)) bail();
      this.entry(out, splitKey(line.text), indent);
    }
    return out;
  }

  /** One entry of a mapping, from the current line on. */
  private entry(out: Record<string, unknown>, { key, rest }: Entry, indent: number): void {
    if (key === undefined || Object.hasOwn(out, key) || FORBIDDEN_KEYS.has(key) || key === '<<') bail();
    this.at += 1;
    out[key] = rest === '' ? this.nested(indent, true) : this.inline(rest, indent);
  }

  /** A block sequence whose dashes sit at `indent`. */
  seq(indent: number): unknown[] {
    const out: unknown[] = [];
    for (let line = this.peek(); line !== undefined && line.indent >= indent; line = this.peek()) {
      if (line.indent > indent) bail();
      if (!isSeqItem(line.text)) break;
      let offset = 1;
      while (line.text.charCodeAt(offset) === 32) offset += 1;
      const rest = line.text.slice(offset);
      if (rest === '' || rest.startsWith('#')) {
        this.at += 1;
        out.push(this.nested(indent, false));
      } else if (isSeqItem(rest) || rest.startsWith('? ')) {
        bail();
      } else {
        const entry = splitKey(rest);
        if (entry.key === undefined) {
          this.at += 1;
          out.push(this.inline(rest, indent));
        } else {
          // "- key: value": a mapping that starts on the dash's line, its keys in that column.
          out.push(this.map(indent + offset, entry));
        }
      }
    }
    return out;
  }

  /** The value of an entry with nothing after its indicator: a nested block, or null. */
  private nested(indent: number, inMap: boolean): unknown {
    const next = this.peek();
    if (next === undefined || next.indent < indent) return null;
    // A mapping's value may be a sequence in the mapping's own column ("key:\n- a").
    if (next.indent === indent) return inMap && isSeqItem(next.text) ? this.seq(indent) : null;
    return isSeqItem(next.text) ? this.seq(next.indent) : this.map(next.indent);
  }

  /** A value written on its entry's line; the next line must not continue it. */
  private inline(text: string, indent: number): unknown {
    const value = inlineValue(text);
    const next = this.peek();
    if (next !== undefined && next.indent > indent) bail();
    return value;
  }
}

/** `key: rest` with the key resolved; key undefined when the text is not a mapping entry. */
interface Entry {
  key: string | undefined;
  rest: string;
}

function splitKey(text: string): Entry {
  const c = text.charAt(0);
  // A flow collection is a value here (as a key it would be a complex key: the full parser's).
  if (c === '[' || c === '{') return { key: undefined, rest: '' };
  if (c === '"' || c === "'") {
    const q = quoted(text, 0);
    if (text.charAt(q.end) !== ':') return { key: undefined, rest: '' };
    return { key: q.value, rest: afterIndicator(text, q.end + 1) };
  }
  const colon = keyColon(text);
  if (colon < 0) return { key: undefined, rest: '' };
  const key = trimEnd(text.slice(0, colon));
  if (key === '' || !isPlainStart(key) || typeof resolvePlain(key) !== 'string') bail();
  return { key, rest: afterIndicator(text, colon + 1) };
}

/** Index of the `:` that ends a plain key (followed by a space or the end), or -1. */
function keyColon(text: string): number {
  for (let i = 0; i < text.length; i += 1) {
    const ch = text.charCodeAt(i);
    if (ch === 58 /* : */ && (i + 1 === text.length || text.charCodeAt(i + 1) === 32)) return i;
    if (ch === 35 /* # */ && i > 0 && text.charCodeAt(i - 1) === 32) return -1;
  }
  return -1;
}

/** What follows a `:` or `-` indicator: "" when only spaces or a comment. */
function afterIndicator(text: string, from: number): string {
  if (from < text.length && text.charCodeAt(from) !== 32) bail();
  const rest = trimStart(text.slice(from));
  return rest.startsWith('#') ? '' : rest;
}

/** Characters a plain scalar may not start with (or only before a non-space, for - ? :). */
function isPlainStart(text: string): boolean {
  const c = text.charAt(0);
  if (c === '' || oneOf(c, '[]{},#&*!|>\'"%@`')) return false;
  if ((c === '-' || c === '?' || c === ':') && (text.length === 1 || text.charAt(1) === ' ')) return false;
  return true;
}

/** A whole single-line value: quoted, flow or plain, then only an optional comment. */
function inlineValue(text: string): unknown {
  const c = text.charAt(0);
  if (c === '"' || c === "'") {
    const q = quoted(text, 0);
    endOfLine(text, q.end);
    return q.value;
  }
  if (c === '[' || c === '{') {
    const f = new Flow(text);
    const value = f.value();
    endOfLine(text, f.at);
    return value;
  }
  if (!isPlainStart(text)) bail();
  let end = text.length;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text.charCodeAt(i);
    if (ch === 35 /* # */ && text.charCodeAt(i - 1) === 32) {
      end = i;
      break;
    }
    // "a: b" here would be a nested mapping (an error); a trailing ":" a key.
    if (ch === 58 /* : */ && (i + 1 === text.length || text.charCodeAt(i + 1) === 32)) bail();
  }
  return resolvePlain(trimEnd(text.slice(0, end)));
}

function endOfLine(text: string, from: number): void {
  const rest = text.slice(from);
  if (rest === '') return;
  const trimmed = trimStart(rest);
  if (trimmed === '' || (trimmed.startsWith('#') && trimmed.length < rest.length)) return;
  bail();
}

/** A quoted scalar closed on its line; `end` is the index after the closing quote. */
function quoted(text: string, start: number): { value: string; end: number } {
  const quote = text.charAt(start);
  let out = '';
  for (let i = start + 1; i < text.length; i += 1) {
    const c = text.charAt(i);
    if (quote === "'") {
      if (c !== "'") out += c;
      else if (text.charAt(i + 1) === "'") {
        out += "'";
        i += 1;
      } else return { value: out, end: i + 1 };
      continue;
    }
    if (c === '"') return { value: out, end: i + 1 };
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = ESCAPES[text.charAt(i + 1)];
    if (e === undefined) bail();
    out += e;
    i += 1;
  }
  return bail();
}

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t', r: '\r', '0': '\0' };

/** A flow collection on one line: [a, b] and { k: v }, nested, no empty or trailing entries. */
class Flow {
  at = 0;

  constructor(private readonly text: string) {}

  value(): unknown {
    this.space();
    const c = this.text.charAt(this.at);
    if (c === '[') return this.list();
    if (c === '{') return this.mapping();
    if (c === '"' || c === "'") {
      const q = quoted(this.text, this.at);
      this.at = q.end;
      return q.value;
    }
    return resolvePlain(this.plain());
  }

  private list(): unknown[] {
    const out: unknown[] = [];
    this.at += 1;
    this.space();
    if (this.eat(']')) return out;
    for (;;) {
      out.push(this.value());
      this.space();
      if (this.text.charAt(this.at) === ':') bail();
      if (this.eat(']')) return out;
      if (!this.eat(',')) bail();
      this.space();
      if (this.text.charAt(this.at) === ']') bail();
    }
  }

  private mapping(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.at += 1;
    this.space();
    if (this.eat('}')) return out;
    for (;;) {
      const c = this.text.charAt(this.at);
      let key: string;
      if (c === '"' || c === "'") {
        const q = quoted(this.text, this.at);
        this.at = q.end;
        key = q.value;
      } else {
        key = this.plain();
        if (typeof resolvePlain(key) !== 'string') bail();
      }
      if (Object.hasOwn(out, key) || FORBIDDEN_KEYS.has(key) || key === '<<') bail();
      if (!this.eat(':') || this.text.charAt(this.at) !== ' ') bail();
      this.space();
      if (this.at >= this.text.length || oneOf(this.text.charAt(this.at), ',}')) bail();
      out[key] = this.value();
      this.space();
      if (this.eat('}')) return out;
      if (!this.eat(',')) bail();
      this.space();
      if (this.text.charAt(this.at) === '}') bail();
    }
  }

  /** A plain scalar inside a flow collection: up to , [ ] { } or ": " / " #". */
  private plain(): string {
    const start = this.at;
    if (!isPlainStart(this.text.slice(start))) bail();
    for (; this.at < this.text.length; this.at += 1) {
      const c = this.text.charAt(this.at);
      if (oneOf(c, ',[]{}')) break;
      if (c === '#' && this.text.charAt(this.at - 1) === ' ') bail();
      if (c === ':') {
        const next = this.text.charAt(this.at + 1);
        if (next === ' ') break;
        if (next === '' || oneOf(next, ',[]{}')) bail();
      }
    }
    const value = trimEnd(this.text.slice(start, this.at));
    if (value === '') bail();
    return value;
  }

  private space(): void {
    while (this.text.charAt(this.at) === ' ') this.at += 1;
  }

  private eat(c: string): boolean {
    if (this.text.charAt(this.at) !== c) return false;
    this.at += 1;
    return true;
  }
}

// The YAML 1.2 core schema, in the order the full parser tries its tags.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
/** Characters no null, boolean or number has (the common case: addresses, subnets, URLs). */
const NOT_A_NUMBER = /[/: ]/;
const LETTER = /^[a-zA-Z_]/;

function oneOf(c: string, set: string): boolean {
  return c !== '' && set.includes(c);
}

// Only spaces: YAML's white space here (String#trim would also take NBSP and other Unicode spaces).
function trimEnd(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 32) end -= 1;
  return end === text.length ? text : text.slice(0, end);
}

function trimStart(text: string): string {
  let start = 0;
  while (text.charCodeAt(start) === 32) start += 1;
  return start === 0 ? text : text.slice(start);
}

export function resolvePlain(text: string): unknown {
  if (NOT_A_NUMBER.test(text)) return text;
  if (LETTER.test(text) && !NULL.test(text) && !BOOL.test(text)) return text;
  if (NULL.test(text)) return null;
  if (BOOL.test(text)) return text.charAt(0) === 't' || text.charAt(0) === 'T';
  if (INT_OCT.test(text)) return parseInt(text.slice(2), 8);
  if (INT.test(text)) return parseInt(text, 10);
  if (INT_HEX.test(text)) return parseInt(text.slice(2), 16);
  if (FLOAT_NAN.test(text)) return text.slice(-3).toLowerCase() === 'nan' ? NaN : text.charAt(0) === '-' ? -Infinity : Infinity;
  if (FLOAT_EXP.test(text) || FLOAT.test(text)) return parseFloat(text);
  return text;
}
