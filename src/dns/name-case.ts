/**
 * DNS 0x20 (draft-vixie-dnsext-dns0x20): the letters of a question name sent upstream get a random
 * case, and a server that copies the question into its reply as it received it (most do) must send
 * back exactly that case: an off-path spoofer has to guess one more bit per letter besides the ID
 * and the source port. Some servers lowercase the question instead; `CaseLearner` finds out per
 * server and stops randomizing for one that does not echo.
 *
 * The names here are the plain labels of a parsed query (wire.ts refuses compression pointers in a
 * question): a length byte is below 64, so every byte that is an ASCII letter is a letter of a label.
 */
import { randomId } from './random-ids.js';
import { HEADER } from './wire.js';

/** compareQuestion: the same bytes. */
export const SAME = 0;
/** compareQuestion: the same name but for letter case, type and class equal. */
export const CASE_ONLY = 1;
/** compareQuestion: another question. */
export const OTHER = 2;

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Gives every letter of the name in `buf[HEADER, nameEnd)` a random case (CSPRNG bits). Returns
 * whether at least one letter came out uppercase: only such a question can show that a server echoes.
 */
export function randomizeCase(buf: Buffer, nameEnd: number): boolean {
  let bits = 0;
  let left = 0;
  let upper = false;
  for (let i = HEADER; i < nameEnd; i++) {
    const c = buf[i]!;
    if (!isLetter(c)) continue;
    if (left === 0) {
      bits = randomId();
      left = 16;
    }
    const up = (bits & 1) === 1;
    bits >>= 1;
    left -= 1;
    buf[i] = up ? c & ~0x20 : c | 0x20;
    upper ||= up;
  }
  return upper;
}

/**
 * Compares the question `sent[HEADER, questionEnd)` with the one at the same place in `reply`:
 * SAME, CASE_ONLY (the name differs in letter case only) or OTHER. Type and class compare exactly.
 */
export function compareQuestion(sent: Buffer, reply: Buffer, questionEnd: number): number {
  if (reply.length < questionEnd) return OTHER;
  const nameEnd = questionEnd - 4;
  let result = SAME;
  for (let i = HEADER; i < questionEnd; i++) {
    const a = sent[i]!;
    const b = reply[i]!;
    if (a === b) continue;
    if (i < nameEnd && isLetter(a) && (a ^ b) === 0x20) result = CASE_ONLY;
    else return OTHER;
  }
  return result;
}

/** The client's own spelling of the question back into the reply (the same length: compareQuestion said so). */
export function restoreQuestion(client: Buffer, reply: Buffer, questionEnd: number): void {
  for (let i = HEADER; i < questionEnd; i++) reply[i] = client[i]!;
}

export type CaseEcho = 'unknown' | 'yes' | 'no';

/** What to do with a reply that is right but for the case of the name. */
export type CaseVerdict = 'drop' | 'confirm' | 'accept';

/** A server found not to echo is tried again after this long (it may have been replaced). */
export const CASE_RECHECK_MS = 3_600_000;

/**
 * Whether one server echoes the question's case. Unknown at first: queries go out randomized; an
 * exact echo of a name with an uppercase letter proves it echoes. A reply that differs only in case
 * is then either a spoof or a server that lowercases: the query is asked once more (fresh ID, port
 * and case); a second such reply means the server does not echo (that reply is taken, and later
 * queries go out as the client wrote them), an exact one that the first was not the server's. For a
 * server that echoes, such a reply is dropped and the query keeps waiting for the real one.
 */
export class CaseLearner {
  echo: CaseEcho = 'unknown';
  /** Replies dropped or questioned because only the case of their name was wrong. */
  mismatches = 0;
  private since = 0;

  /** Whether the next UDP query to this server gets a random case. */
  randomize(now: number): boolean {
    if (this.echo === 'no' && now - this.since >= CASE_RECHECK_MS) this.echo = 'unknown';
    return this.echo !== 'no';
  }

  /** A reply echoed a randomized question exactly. */
  echoed(hadUpper: boolean): void {
    if (hadUpper) this.echo = 'yes';
  }

  /** A reply right in everything but the case of the name; `confirming`: it answers the second asking. */
  caseOnly(confirming: boolean, now: number): CaseVerdict {
    this.mismatches += 1;
    if (this.echo === 'yes') return 'drop';
    if (!confirming) return 'confirm';
    this.echo = 'no';
    this.since = now;
    return 'accept';
  }

  /** A query whose reply was dropped for its case got no other: the server may have changed; learn again. */
  unanswered(): void {
    if (this.echo === 'yes') this.echo = 'unknown';
  }
}
