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

/** Index just past the first label separator of `name`, or -1 for a single label. */
export function parentStart(name: string): number {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i += 1; // escaped character
    else if (c === 46) return i + 1;
  }
  return -1;
}

/** The value of the most specific entry that is `name` or one of its parent domains. */
export function matchSubtree<T>(table: ReadonlyMap<string, T>, name: string): T | undefined {
  if (table.size === 0) return undefined;
  let candidate = name;
  for (;;) {
    const hit = table.get(candidate);
    if (hit !== undefined) return hit;
    const next = parentStart(candidate);
    if (next < 0) return candidate === '' ? undefined : table.get('');
    candidate = candidate.slice(next);
  }
}

/** Exact names first, then the most specific `*.suffix` wildcard strictly above the name. */
export function matchExactOrWildcard<T>(exact: ReadonlyMap<string, T>, wildcards: ReadonlyMap<string, T>, name: string): T | undefined {
  const hit = exact.get(name);
  if (hit !== undefined || wildcards.size === 0) return hit;
  let candidate = name;
  for (;;) {
    const next = parentStart(candidate);
    if (next < 0) return undefined;
    candidate = candidate.slice(next);
    const wild = wildcards.get(candidate);
    if (wild !== undefined) return wild;
  }
}
