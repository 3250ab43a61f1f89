/**
 * An upstream DNS server for the spoofing tests, run inside the test's namespace:
 *   node --import tsx dns-fake-upstream.ts ADDRESS PORT MODE
 * It answers every A query with 10.0.0.1 (TTL 0, so nothing is cached) and any other type with an
 * empty NOERROR, and prints one JSON line per query received: {"port", "id", "name"} (the name as it
 * arrived, letter case included). MODE:
 *   echo   the question copied into the reply as received (what most servers do);
 *   lower  the question lowercased in the reply (a server that does not echo case);
 *   spoof  for names starting with "evil", first a reply whose question differs only in case,
 *          answering 6.6.6.6 (what a spoofer who guessed ID and port would send), then the real one;
 *   hold   replies held until a line arrives on stdin (the test releases them), or for 1500 ms;
 *   swap   when two queries wait from the same source port,
 *          each first gets a reply under the other's ID (the other's question, answering 6.6.6.6:
 *          what a spoofer who knows one port would send), then, 100 ms later, its real reply; a query
 *          left alone gets its real reply after 300 ms. Prints {"crossed": PORT} per pair crossed.
 * It prints "ready" once bound.
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const [address = '127.0.0.1', portText = '53', mode = 'echo'] = process.argv.slice(2);

function question(query: Buffer): { end: number; name: string; qtype: number } | undefined {
  let off = 12;
  const labels: string[] = [];
  while (off < query.length && query[off] !== 0) {
    const len = query[off]!;
    if (len > 63) return undefined;
    labels.push(query.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  if (off + 5 > query.length) return undefined;
  return { end: off + 5, name: labels.join('.'), qtype: query.readUInt16BE(off + 1) };
}

function reply(query: Buffer, end: number, qtype: number, ip: string, transform: (c: number) => number): Buffer {
  const head = Buffer.from(query.subarray(0, end));
  for (let i = 12; i < end - 4; i++) head[i] = transform(head[i]!);
  head.writeUInt16BE(0x8180, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(qtype === 1 ? 1 : 0, 6);
  head.writeUInt32BE(0, 8);
  if (qtype !== 1) return head;
  const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, ...ip.split('.').map(Number)]);
  return Buffer.concat([head, rr]);
}

const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const same = (c: number): number => c;
const lower = (c: number): number => (isLetter(c) ? c | 0x20 : c);
const flip = (c: number): number => (isLetter(c) ? c ^ 0x20 : c);

const held: (() => void)[] = [];
/** swap mode: a query from each source port waiting for a partner. */
const alone = new Map<number, { query: Buffer; end: number; qtype: number; timer: NodeJS.Timeout }>();
const socket = dgram.createSocket('udp4');
socket.on('message', (query, peer) => {
  const q = question(query);
  if (q === undefined || query.length < 12) return;
  process.stdout.write(`${JSON.stringify({ port: peer.port, id: query.readUInt16BE(0), name: q.name })}\n`);
  const send = (msg: Buffer): void => socket.send(msg, peer.port, peer.address);
  if (mode === 'lower') send(reply(query, q.end, q.qtype, '10.0.0.1', lower));
  else if (mode === 'spoof' && q.name.toLowerCase().startsWith('evil')) {
    send(reply(query, q.end, q.qtype, '6.6.6.6', flip));
    setTimeout(() => send(reply(query, q.end, q.qtype, '10.0.0.1', same)), 100);
  } else if (mode === 'hold') {
    const release = (): void => send(reply(query, q.end, q.qtype, '10.0.0.1', same));
    held.push(release);
    // Never past the agent's per-server timeout (2 s), even if the test does not release it.
    setTimeout(() => {
      const at = held.indexOf(release);
      if (at < 0) return;
      held.splice(at, 1);
      release();
    }, 1500);
  } else if (mode === 'swap') {
    const other = alone.get(peer.port);
    if (other === undefined) {
      const timer = setTimeout(() => {
        alone.delete(peer.port);
        send(reply(query, q.end, q.qtype, '10.0.0.1', same));
      }, 300);
      alone.set(peer.port, { query, end: q.end, qtype: q.qtype, timer });
      return;
    }
    alone.delete(peer.port);
    clearTimeout(other.timer);
    const crossed = (from: Buffer, end: number, qtype: number, id: number): Buffer => {
      const r = reply(from, end, qtype, '6.6.6.6', same);
      r.writeUInt16BE(id, 0);
      return r;
    };
    send(crossed(other.query, other.end, other.qtype, query.readUInt16BE(0)));
    send(crossed(query, q.end, q.qtype, other.query.readUInt16BE(0)));
    process.stdout.write(`${JSON.stringify({ crossed: peer.port })}\n`);
    setTimeout(() => {
      send(reply(query, q.end, q.qtype, '10.0.0.1', same));
      send(reply(other.query, other.end, other.qtype, '10.0.0.1', same));
    }, 100);
  } else send(reply(query, q.end, q.qtype, '10.0.0.1', same));
});
createInterface({ input: process.stdin }).on('line', () => {
  for (const release of held.splice(0)) release();
});
socket.bind(Number(portText), address, () => process.stdout.write('ready\n'));
