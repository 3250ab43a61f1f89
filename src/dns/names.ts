/**
 * Name matching on lowercase presentation names (wire.ts produces them; '.' and '\' inside a
 * label are escaped). dnsmasq semantics: a rule for `example.com` covers the name and every
 * subdomain, the most specific rule wins, and matching is on whole labels (`google.com` never
 * matches `supergoogle.com`). ServiceEntry wildcards `*.example.com` cover subdomains only.
 */

/** Canonical form of a configured name: lowercase, no trailing dot. */
export function normalizeName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Index just past the first label separator of `name` at or after `from`, or -1 when none is left. */
export function parentStart(name: string, from = 0): number {
  for (let i = from; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i += 1; // escaped character
    else if (c === 46) return i + 1;
  }
  return -1;
}

/** Length and first character of `name[at...]`: a key can equal that suffix only if its shape is the same. */
function shapeAt(name: string, at: number): number {
  return (name.length - at) * 256 + (at < name.length ? name.charCodeAt(at) & 0xff : 0);
}

/** Keys sharing a shape up to which a parent is compared in place; past it, one slice and a hash lookup. */
const SCAN_LIMIT = 8;

/**
 * A table of domain names matched against a query name and its parent domains. A parent would need
 * a string of its own to be looked up (a slice, garbage on every query), so the table groups its keys
 * by length and first character: a parent whose shape no key has is passed over at once, and one
 * whose shape a few keys have is compared with them where it lies in the name.
 */
export class DomainTable<T> {
  private readonly shapes = new Map<number, { key: string; value: T }[]>();

  constructor(private readonly entries: ReadonlyMap<string, T> = new Map()) {
    for (const [key, value] of entries) {
      const shape = shapeAt(key, 0);
      const keys = this.shapes.get(shape);
      if (keys === undefined) this.shapes.set(shape, [{ key, value }]);
      else keys.push({ key, value });
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value of the most specific entry that is `name` or one of its parent domains ('' is the root). */
  matchSubtree(name: string): T | undefined {
    if (this.entries.size === 0) return undefined;
    for (let at = 0; ; ) {
      const hit = this.at(name, at);
      if (hit !== undefined) return hit;
      at = parentStart(name, at);
      if (at < 0) return name === '' ? undefined : this.at('', 0);
    }
  }

  /** The value of the most specific entry that is a parent domain of `name` (not `name` itself, not the root). */
  matchAbove(name: string): T | undefined {
    if (this.entries.size === 0) return undefined;
    for (let at = parentStart(name); at >= 0; at = parentStart(name, at)) {
      const hit = this.at(name, at);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  private at(name: string, at: number): T | undefined {
    const keys = this.shapes.get(shapeAt(name, at));
    if (keys === undefined) return undefined;
    if (at === 0) return this.entries.get(name);
    if (keys.length > SCAN_LIMIT) return this.entries.get(name.slice(at));
    // Same length as the suffix, so "starts with the key at `at`" is "the suffix is the key".
    for (const k of keys) if (name.startsWith(k.key, at)) return k.value;
    return undefined;
  }
}
