/**
 * What the transports to an upstream server share: the query as it waits on a server, how an attempt
 * settles, and the checks every reply passes before it settles one (from the server's address: the
 * sockets are connected; a response, one question, the pending ID, the same question).
 */
import { restoreQuestion } from './name-case.js';
import { randomId } from './random-ids.js';
import { HEADER, QR, u16 } from './wire.js';
import { AgentError, ErrorCode } from '../errors.js';

/**
 * A query waiting on one server. The forwarder's job is its own pending record: a query waits on
 * one transport at a time, so nothing is allocated per attempt but the attempt's socket.
 */
export interface UpstreamQuery {
  /** The client's query, never changed: its ID and spelling go back into the reply. */
  readonly packet: Buffer;
  /** What is sent: the same bytes with our ID and, over UDP, our letter case (written per attempt). */
  readonly wire: Buffer;
  readonly questionEnd: number;
  /** Set by Upstream.query. */
  deadline: number;
  sentAt: number;
  /** The outcome of the attempt: a reply (client's ID and question restored) or an error. Called once per attempt. */
  onUpstream(err: Error | undefined, reply?: Buffer): void;
}

/** Tells the lane's server how an attempt went (health, round-trip time) before the query hears of it. */
export type SettleHook = (q: UpstreamQuery, err: Error | undefined) => void;

export class UpstreamTimeout extends AgentError {
  constructor(server: string) {
    super(ErrorCode.DnsUpstreamFailed, `no answer from ${server} in time`);
    this.name = 'UpstreamTimeout';
  }
}

/** The client's bytes under a fresh random ID (RFC 5452), ready for the case to be set. */
export function prepareWire(q: UpstreamQuery): number {
  const id = randomId();
  q.packet.copy(q.wire, 0, 0, q.packet.length);
  q.wire[0] = id >> 8;
  q.wire[1] = id & 0xff;
  return id;
}

/** A response with exactly one question under our ID; the question itself is compared by the lane. */
export function isReplyTo(reply: Buffer, id: number): boolean {
  return reply.length >= HEADER && u16(reply, 0) === id && (u16(reply, 2) & QR) !== 0 && u16(reply, 4) === 1;
}

export function fail(q: UpstreamQuery, err: Error, hook: SettleHook): void {
  hook(q, err);
  q.onUpstream(err);
}

export function failAll(map: Map<number, UpstreamQuery>, err: Error, hook: SettleHook): void {
  const all = [...map.values()];
  map.clear();
  for (const q of all) fail(q, err, hook);
}

/** Settles `q` with `reply`, which gets the client's ID and spelling of the question back. */
export function answer(q: UpstreamQuery, reply: Buffer, hook: SettleHook): void {
  restoreQuestion(q.packet, reply, q.questionEnd);
  reply[0] = q.packet[0]!;
  reply[1] = q.packet[1]!;
  hook(q, undefined);
  q.onUpstream(undefined, reply);
}
