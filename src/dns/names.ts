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

/**
 * A table of domain names matched against a query name and its parent domains. Looking up a parent
 * needs it as a string of its own (a slice, garbage on every query); the table keeps the length and
 * first character of each key, so a parent is sliced only when some key could equal it, which for a
 * name the table does not cover is almost never.
 */
export class DomainTable<T> {
  private readonly shapes = new Set<number>();

  constructor(private readonly entries: ReadonlyMap<string, T> = new Map()) {
    for (const key of entries.keys()) this.shapes.add(shapeAt(key, 0));
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
    if (!this.shapes.has(shapeAt(name, at))) return undefined;
    return this.entries.get(at === 0 ? name : name.slice(at));
  }
}
