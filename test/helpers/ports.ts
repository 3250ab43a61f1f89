import { readFileSync } from 'node:fs';

/**
 * Ports for servers a test starts. They come from below the kernel's ephemeral range, so an outgoing connection
 * elsewhere in the suite can never be holding one, and each process draws from its own block (by pid), so two test
 * files running at once do not hand out the same port. Within a process a port is never handed out twice.
 */
const handedOut = new Set<number>();

function ephemeralStart(): number {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const value = Number(start);
    return Number.isInteger(value) && value > 12000 ? value : 32768;
  } catch {
    return 32768;
  }
}

const LOW = 10000;
const BLOCKS = 32;

export function testPort(): number {
  const blockSize = Math.floor((ephemeralStart() - LOW) / BLOCKS);
  const base = LOW + (process.pid % BLOCKS) * blockSize;
  for (let attempt = 0; attempt < blockSize; attempt++) {
    const port = base + Math.floor(Math.random() * blockSize);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no unused test port left in ${base}..${base + blockSize - 1}`);
}
