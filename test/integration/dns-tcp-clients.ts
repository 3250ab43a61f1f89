/**
 * TCP DNS clients for the per-client bounds test, run inside the test's namespace:
 *   node --import tsx dns-tcp-clients.ts HOST PORT MODE [ARGS]
 * Every query asks istio-pilot A. MODE:
 *   pipeline COUNT          writes COUNT queries at once and reads every answer: {"answered"}
 *   greedy COUNT            writes COUNT queries at once and never reads; prints {"event":"connected"},
 *                           then {"event":"closed"} when the agent closes the connection
 *   dribble                 a frame announcing 500 bytes, then one byte every 300 ms (never a whole
 *                           query) until the agent closes it: {"closedByAgent", "bytes"}
 *   steady                  one query every 500 ms, reading the answers, until the agent closes it:
 *                           {"closedByAgent", "answered"}
 *   sources FROM COUNT SHUT COUNT connections from local address FROM; once SHUT of them were closed by
 *                           the agent (at most 10 s), one query on each still open: {"closedEarly", "answered"}
 */
import net from 'node:net';
import { once } from 'node:events';
import { buildQuery, QType } from '../../src/dns/wire.js';

const [host = '127.0.0.1', portText = '53', mode = 'pipeline', ...args] = process.argv.slice(2);
const port = Number(portText);

function frames(count: number, firstId = 0): Buffer {
  const q = buildQuery(0, 'istio-pilot', QType.A);
  const size = 2 + q.length;
  const out = Buffer.alloc(count * size);
  for (let i = 0; i < count; i++) {
    out.writeUInt16BE(q.length, i * size);
    q.copy(out, i * size + 2);
    out.writeUInt16BE((firstId + i) & 0xffff, i * size + 2);
  }
  return out;
}

/** Counts whole answer frames as they arrive. */
function counter(socket: net.Socket): { answered: () => number } {
  let pending: Buffer = Buffer.alloc(0);
  let answered = 0;
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let off = 0;
    while (pending.length - off >= 2 && pending.length - off >= 2 + pending.readUInt16BE(off)) {
      answered += 1;
      off += 2 + pending.readUInt16BE(off);
    }
    pending = pending.subarray(off);
  });
  return { answered: () => answered };
}

async function connect(localAddress?: string): Promise<net.Socket> {
  const socket = net.connect({ host, port, ...(localAddress === undefined ? {} : { localAddress }) });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve) => {
    const poll = (): void => (check() || Date.now() > deadline ? resolve() : void setTimeout(poll, 20));
    poll();
  });
}

async function main(): Promise<unknown> {
  if (mode === 'pipeline') {
    const count = Number(args[0]);
    const socket = await connect();
    const c = counter(socket);
    socket.write(frames(count));
    await until(() => c.answered() >= count, 60_000);
    socket.destroy();
    return { answered: c.answered() };
  }
  if (mode === 'greedy') {
    const socket = await connect();
    socket.pause();
    socket.write(frames(Number(args[0])));
    console.log(JSON.stringify({ event: 'connected' }));
    // Not reading, it would not see the agent close the connection: a byte now and then fails once it has.
    const poke = setInterval(() => socket.write(Buffer.from([0])), 500);
    await new Promise((resolve) => socket.on('close', resolve));
    clearInterval(poke);
    return { event: 'closed' };
  }
  if (mode === 'dribble' || mode === 'steady') {
    const socket = await connect();
    const c = counter(socket);
    let closedByUs = false;
    let bytes = 0;
    let id = 0;
    const header = Buffer.from([1, 244]);
    const timer = setInterval(
      () => {
        if (mode === 'steady') socket.write(frames(1, id++));
        else socket.write(bytes < 2 ? header.subarray(bytes, bytes + 1) : Buffer.from([bytes & 0x7f]));
        bytes += 1;
      },
      mode === 'steady' ? 500 : 300,
    );
    // A bound on the test's side: the agent's limits are 10 s idle and 30 s in all.
    const giveUp = setTimeout(() => {
      closedByUs = true;
      socket.destroy();
    }, 90_000);
    await new Promise((resolve) => socket.on('close', resolve));
    clearInterval(timer);
    clearTimeout(giveUp);
    return mode === 'steady' ? { closedByAgent: !closedByUs, answered: c.answered() } : { closedByAgent: !closedByUs, bytes };
  }
  if (mode === 'sources') {
    const [from, countText = '0', shutText = '0'] = args;
    let closedEarly = 0;
    const sockets = Array.from({ length: Number(countText) }, () => {
      const s = net.connect({ host, port, localAddress: from });
      s.on('error', () => undefined);
      s.on('close', () => (closedEarly += 1));
      return s;
    });
    await until(() => sockets.every((s) => !s.connecting), 10_000);
    await until(() => closedEarly >= Number(shutText), 10_000);
    const open = sockets.filter((s) => !s.destroyed);
    const counters = open.map((s) => counter(s));
    for (const [k, s] of open.entries()) s.write(frames(1, k));
    await until(() => counters.every((c) => c.answered() >= 1), 10_000);
    const answered = counters.filter((c) => c.answered() >= 1).length;
    for (const s of sockets) s.destroy();
    return { closedEarly, answered };
  }
  throw new Error(`unknown mode ${mode}`);
}

console.log(JSON.stringify(await main()));
process.exit(0);
