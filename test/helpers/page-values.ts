/**
 * The values a status page shows, by data-k name, read from its HTML: the server's rendering or
 * the DOM Chromium dumps. Every data-k element on the page is a leaf holding text, so a pattern
 * suffices; entities are decoded, so a value reads as the text a person sees.
 */
const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return NAMED[name] ?? whole;
  });
}

/** data-k name → the texts of the elements carrying it, in page order. */
export function pageValues(page: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const m of page.matchAll(/<([a-z0-9]+)\b[^>]*?\sdata-k="([^"]*)"[^>]*>([^<]*)<\/\1>/gi)) {
    const key = decodeEntities(m[2] ?? '');
    const list = values.get(key) ?? [];
    list.push(decodeEntities(m[3] ?? ''));
    values.set(key, list);
  }
  return values;
}
