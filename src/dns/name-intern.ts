/**
 * Names seen again come back as the same string. A query's name is needed as a string (the
 * tables and the cache are keyed by it), and making one per query was most of what the answer path
 * left for the young-generation collector: at a steady load of known names, the collections (each a
 * pause every query behind it waits out) set the tail latency. A direct-mapped table of recent names
 * hashes the bytes, compares them with the strings already there, and hands the match back; only a
 * name new to the table makes a string. Two slots per hash (the less recently used one is replaced):
 * with one, names sharing a slot evicted each other on every query.
 */

/** Slots in the table, a power of two: 16384 names, typically under 1 MB of strings. */
const SLOTS = 16384;

export class NameInterner {
  private readonly strings: string[] = new Array<string>(SLOTS).fill('');
  /** Per pair of slots: which of the two was used last (0 or 1). */
  private readonly recent = new Uint8Array(SLOTS / 2);
  /** Strings made because the slot held another name (or none): for tests and the bench. */
  made = 0;

  /** The latin1 string of `bytes[0, length)`, reused when the same bytes were seen last in its slot. */
  intern(bytes: Buffer, length: number): string {
    // FNV-1a: cheap, and good enough to spread names that differ in a digit or two.
    let h = 0x811c9dc5;
    for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    const pair = (h ^ (h >>> 15)) & (SLOTS / 2 - 1);
    const strings = this.strings;
    for (let way = 0; way < 2; way++) {
      const known = strings[pair * 2 + way]!;
      if (known.length === length && sameText(known, bytes, length)) {
        this.recent[pair] = way;
        return known;
      }
    }
    const way = 1 - this.recent[pair]!;
    const made = bytes.toString('latin1', 0, length);
    strings[pair * 2 + way] = made;
    this.recent[pair] = way;
    this.made += 1;
    return made;
  }
}

function sameText(text: string, bytes: Buffer, length: number): boolean {
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) !== bytes[i]) return false;
  return true;
}
