/**
 * UDP query bursts for the spoofing tests, run inside the test's namespace:
 *   node --import tsx dns-query-burst.ts HOST PORT many COUNT SUFFIX   COUNT names q<i>.SUFFIX, 50 at a time
 *   node --import tsx dns-query-burst.ts HOST PORT same COUNT NAME     COUNT clients (one socket each) ask NAME at once
 * Prints one JSON line: for `many`, {sent, answered, byAddress}; for `same`, one entry per client with
 * the ID it sent and the ID, question and address of the reply it got (null when none came in 5 s).
 */
import dgram from 'node:dgram';
import { buildQuery, QType } from '../../src/dns/wire.js';

const [host = '127.0.0.1', portText = '53', mode = 'many', countText = '10', name = 'x'] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);

interface Reply {
  id: number;
  question: string;
  address: string | null;
}

function parse(msg: Buffer): Reply {
  let off = 12;
  const labels: string[] = [];
  while (off < msg.length && msg[off] !== 0) {
    labels.push(msg.subarray(off + 1, off + 1 + msg[off]!).toString('latin1'));
    off += 1 + msg[off]!;
  }
  const answerAt = off + 5;
  const hasA = msg.readUInt16BE(6) > 0 && msg.length >= answerAt + 16;
  return { id: msg.readUInt16BE(0), question: labels.join('.'), address: hasA ? [...msg.subarray(answerAt + 12, answerAt + 16)].join('.') : null };
}

function ask(socket: dgram.Socket, id: number, qname: string): Promise<Reply | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      resolve(null);
    }, 5000);
    const onMessage = (msg: Buffer): void => {
      if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(parse(msg));
    };
    socket.on('message', onMessage);
    socket.send(buildQuery(id, qname, QType.A), port, host);
  });
}

async function many(): Promise<void> {
  const socket = dgram.createSocket('udp4');
  socket.setMaxListeners(0);
  const byAddress: Record<string, number> = {};
  let answered = 0;
  for (let from = 0; from < count; from += 50) {
    const ids = Array.from({ length: Math.min(50, count - from) }, (_, k) => from + k);
    const replies = await Promise.all(ids.map((i) => ask(socket, i, `q${i}.${name}`)));
    for (const r of replies) {
      if (r === null) continue;
      answered += 1;
      const key = r.address ?? 'none';
      byAddress[key] = (byAddress[key] ?? 0) + 1;
    }
  }
  socket.close();
  console.log(JSON.stringify({ sent: count, answered, byAddress }));
}

async function same(): Promise<void> {
  // Each client its own socket, ID and spelling of the name (every other one in uppercase).
  const clients = Array.from({ length: count }, (_, k) => ({ socket: dgram.createSocket('udp4'), id: 1000 + k * 7, qname: k % 2 === 0 ? name : name.toUpperCase() }));
  const replies = await Promise.all(clients.map((c) => ask(c.socket, c.id, c.qname)));
  for (const c of clients) c.socket.close();
  console.log(JSON.stringify(clients.map((c, k) => ({ sentId: c.id, sentName: c.qname, reply: replies[k] }))));
}

await (mode === 'same' ? same() : many());
