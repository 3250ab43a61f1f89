/**
 * Flood script for the robustness test, run inside the test's namespace:
 *   node --import tsx dns-flood.ts HOST PORT UDP_COUNT TCP_FRAMES
 * Sends random and mutated packets over UDP and garbage/partial/valid frames over TCP, while a
 * probe socket asks a valid question every few hundred packets. Prints a JSON summary.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes, randomInt } from 'node:crypto';
import { buildQuery, QType } from '../../src/dns/wire.js';

const [host = '127.0.0.1', portText = '53', udpText = '200000', tcpText = '20000'] = process.argv.slice(2);
const port = Number(portText);

const seeds = [
  buildQuery(1, 'istio-pilot', QType.A),
  buildQuery(2, 'httpbin.bar.global', QType.AAAA, { ednsSize: 1232 }),
  buildQuery(3, 'productpage.default.svc.cluster.local', QType.A),
  buildQuery(4, 'www.example.com', QType.MX, { ednsSize: 4096 }),
];

function validQuery(id: number): Buffer {
  return buildQuery(id, 'istio-pilot', QType.A);
}

/** One hostile packet: random bytes, a mutated valid query, or a crafted pathological one. */
function hostile(i: number): Buffer {
  const kind = i % 10;
  if (kind === 0) return randomBytes(randomInt(0, 600));
  if (kind === 1) {
    // Compression-pointer loop in the question.
    const b = Buffer.from(seeds[0]!);
    b[12] = 0xc0;
    b[13] = 12;
    return b;
  }
  if (kind === 2) {
    const b = Buffer.from(seeds[i % seeds.length]!);
    b[2]! |= 0x80; // a response
    return b;
  }
  if (kind === 3) {
    const b = Buffer.from(seeds[i % seeds.length]!);
    b.writeUInt16BE(randomInt(0, 65536), 4 + 2 * randomInt(0, 4)); // lying counts
    return b;
  }
  const b = Buffer.from(seeds[i % seeds.length]!);
  const flips = randomInt(1, 7);
  for (let f = 0; f < flips; f++) b[randomInt(0, b.length)] = randomInt(0, 256);
  return randomInt(0, 5) === 0 ? b.subarray(0, randomInt(0, b.length)) : b;
}

async function probe(socket: dgram.Socket, id: number): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const q = buildQuery(id, 'istio-pilot', QType.A);
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        socket.off('message', onMessage);
        resolve(false);
      }, 2000);
      const onMessage = (m: Buffer): void => {
        if (m.readUInt16BE(0) !== id) return;
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve((m[3]! & 0xf) === 0 && m.readUInt16BE(6) === 1);
      };
      socket.on('message', onMessage);
    });
    socket.send(q, port, host);
    if (await got) return true;
  }
  return false;
}

/**
 * Connections of 50 frames each (every tenth a valid query), 20 at a time, each from its own loopback
 * address. Each waits for the answers to its valid frames (those before any zero-length frame, where
 * the agent ends the connection), or for the agent to close it, within a deadline, and notes how
 * long the last answer took from the write (reported, not judged).
 */
async function tcpFlood(frames: number): Promise<{ frames: number; validAnswered: number; validSent: number; answerMs: { p50: number; p99: number; max: number } }> {
  let sent = 0;
  let validSent = 0;
  let validAnswered = 0;
  const waits: number[] = [];
  while (sent < frames) {
    const batch = Array.from({ length: 20 }, async (_, slot) => {
      const socket = net.connect({ host, port, localAddress: `127.0.1.${slot + 1}` });
      socket.on('error', () => undefined);
      let received = Buffer.alloc(0);
      socket.on('data', (c: Buffer) => {
        received = Buffer.concat([received, c]);
      });
      let closed = false;
      socket.on('close', () => (closed = true));
      try {
        await once(socket, 'connect');
      } catch {
        return;
      }
      const chunks: Buffer[] = [];
      // Valid frames the agent owes an answer: those before a zero-length frame (it closes there).
      let valid = 0;
      let ended = false;
      for (let k = 0; k < 50; k++, sent++) {
        // A valid frame: istio-pilot under its own ID (0x8000 + its number), answered at most once.
        const payload = k % 10 === 0 ? validQuery(0x8000 + k / 10) : hostile(sent);
        if (k % 10 === 0 && !ended) valid++;
        ended ||= payload.length === 0;
        const frame = Buffer.alloc(2 + payload.length);
        frame.writeUInt16BE(payload.length, 0);
        payload.copy(frame, 2);
        chunks.push(frame);
      }
      // End with one of: a zero-length frame, a frame promising more than is sent, or a clean close.
      const ending = randomInt(0, 3);
      if (ending === 1) chunks.push(Buffer.from([0xff, 0xff, 1, 2, 3]));
      const all = Buffer.concat(chunks);
      // Dribble part of it in small pieces (a slow sender), the rest at once.
      const written = Date.now();
      socket.write(all.subarray(0, 37));
      socket.write(all.subarray(37));
      if (ending === 0) socket.write(Buffer.from([0, 0]));
      else if (ending === 2) socket.end();
      validSent += valid;
      // Answers to the valid frames owed: replies with ANCOUNT 1 under their IDs.
      const answered = (): number => {
        const ids = new Set<number>();
        let off = 0;
        while (off + 2 <= received.length) {
          const len = received.readUInt16BE(off);
          const msg = received.subarray(off + 2, off + 2 + len);
          const n = msg.length === len && len > 12 && msg.readUInt16BE(6) === 1 ? msg.readUInt16BE(0) - 0x8000 : -1;
          if (n >= 0 && n < valid) ids.add(n);
          off += 2 + len;
        }
        return ids.size;
      };
      const deadline = written + 20_000;
      while (answered() < valid && !closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      waits.push(Date.now() - written);
      socket.destroy();
      validAnswered += answered();
    });
    await Promise.all(batch);
  }
  waits.sort((a, b) => a - b);
  const at = (p: number): number => waits[Math.min(waits.length - 1, Math.floor(waits.length * p))] ?? 0;
  return { frames: sent, validAnswered, validSent, answerMs: { p50: at(0.5), p99: at(0.99), max: at(1) } };
}

async function main(): Promise<void> {
  const udpCount = Number(udpText);
  const flood = dgram.createSocket('udp4');
  flood.on('message', () => undefined);
  flood.on('error', () => undefined);
  const prober = dgram.createSocket('udp4');
  await new Promise<void>((r) => prober.bind(0, '127.0.0.1', () => r()));
  let probes = 0;
  let probesOk = 0;
  let sent = 0;
  const started = Date.now();
  const tcp = tcpFlood(Number(tcpText));
  while (sent < udpCount) {
    for (let k = 0; k < 400 && sent < udpCount; k++, sent++) flood.send(hostile(sent), port, host);
    await new Promise((r) => setImmediate(r));
    if (sent % 4000 === 0) {
      probes++;
      if (await probe(prober, 0x4000 + (probes % 0x3fff))) probesOk++;
    }
  }
  const tcpResult = await tcp;
  probes++;
  if (await probe(prober, 0x7fff)) probesOk++;
  flood.close();
  prober.close();
  console.log(JSON.stringify({ udp: sent, tcp: tcpResult, probes, probesOk, ms: Date.now() - started }));
}

await main();
