/** Unique, short names per run: namespaces start with mna- (swept by scripts/test.sh), links fit IFNAMSIZ. */
import { randomBytes } from 'node:crypto';

let counter = 0;
const run = randomBytes(2).toString('hex');

/**
 * A network namespace name: mna-<tag>-<pid>-<n>. The pid lets scripts/test.sh sweep leftovers of
 * dead runs without touching namespaces of test runs still alive.
 */
export function uniqueNetnsName(tag: string): string {
  counter += 1;
  return `mna-${tag.replace(/[^a-z0-9]/gi, '').slice(0, 8)}-${process.pid}-${counter}`;
}

/** An interface name of at most 15 characters: <tag(≤4)><run><n>. */
export function uniqueIfName(tag: string): string {
  counter += 1;
  return `${tag.slice(0, 4)}${run}${counter.toString(36)}`.slice(0, 15);
}
