/** Query IDs from a CSPRNG (RFC 5452), drawn from a refilled buffer so the hot path makes no syscall. */
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let next = pool.length;

export function randomId(): number {
  if (next >= pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const id = (pool[next]! << 8) | pool[next + 1]!;
  next += 2;
  return id;
}
