/** Unique, short names per run: namespaces start with mna- (swept by scripts/test.sh), links fit IFNAMSIZ. */
import { randomBytes } from 'node:crypto';

let counter = 0;
const run = randomBytes(2).toString('hex');

/** A network namespace name: mna-<tag>-<run>-<n>. */
export function uniqueNetnsName(tag: string): string {
  counter += 1;
  return `mna-${tag.slice(0, 8)}-${run}${process.pid.toString(36)}-${counter}`;
}

/** An interface name of at most 15 characters: <tag(≤4)><run><n>. */
export function uniqueIfName(tag: string): string {
  counter += 1;
  return `${tag.slice(0, 4)}${run}${counter.toString(36)}`.slice(0, 15);
}
