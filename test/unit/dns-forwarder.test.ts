/**
 * Failover order with explicit times: two real upstreams on loopback (one that never answers until
 * told to, one that always does), a forwarding job started at a chosen "now", and timeouts driven by
 * sweeping at the attempt's deadline. A server that timed out goes to the back until its back-off
 * ends (1 s, then 2 s ... after consecutive failures), then leads again so real traffic probes it;
 * any reply makes it healthy. Nothing here waits on the clock, so a slow machine cannot change it.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { ForwardJob, Forwarder } from '../../src/dns/forwarder.js';
import { Upstream } from '../../src/dns/upstream.js';
import { buildQuery, QType } from '../../src/dns/wire.js';
import { waitFor } from '../helpers/exec.js';

/** A loopback DNS server that echoes each query back as a reply (QR set) while `answering`. */
async function server(answering: boolean): Promise<{ port: number; received: () => number; answer: (on: boolean) => void; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  let received = 0;
  let on = answering;
  socket.on('message', (msg, rinfo) => {
    received += 1;
    if (!on) return;
    msg[2]! |= 0x80;
    socket.send(msg, rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { port: socket.address().port, received: () => received, answer: (v) => (on = v), close: () => socket.close() };
}

class Job extends ForwardJob {
  reply: Buffer | undefined;
  finished = false;

  constructor(id: number) {
    const packet = buildQuery(id, `q${id}.example`, QType.A);
    super(packet, packet.length, false);
  }

  protected finish(reply: Buffer | undefined): void {
    this.reply = reply;
    this.finished = true;
  }
}

void describe('dns forwarder: failover order and back-off', () => {
  const closers: (() => void)[] = [];
  after(() => closers.forEach((c) => c()));

  void test('a timed-out server is passed over until its back-off ends, then probed; a reply makes it healthy', async () => {
    const silent = await server(false);
    const good = await server(true);
    const primary = new Upstream('127.0.0.1', silent.port);
    const secondary = new Upstream('127.0.0.1', good.port);
    closers.push(silent.close, good.close, () => primary.close(), () => secondary.close());
    const forwarder = new Forwarder([primary, secondary], 2000);
    assert.deepEqual(forwarder.order(Date.now()), [primary, secondary], 'configured order while healthy');

    /** Starts a job at `now`; times the primary out at its deadline if it asked it; waits for the answer. */
    const run = async (id: number, now: number, timeOut: boolean): Promise<{ job: Job; failedFrom: number; failedBy: number }> => {
      const job = new Job(id);
      const asked = primary.queries;
      job.start(forwarder, now);
      let failedFrom = Number.NaN;
      let failedBy = Number.NaN;
      if (timeOut) {
        assert.equal(primary.queries, asked + 1, 'the primary was asked');
        await waitFor('the query at the silent server', () => silent.received() === asked + 1, 5000, 5);
        failedFrom = Date.now();
        primary.sweep(job.deadline);
        failedBy = Date.now();
      }
      await waitFor(`job ${id} answered`, () => job.finished, 5000, 5);
      return { job, failedFrom, failedBy };
    };

    const first = await run(1, Date.now(), true);
    assert.ok(first.job.reply !== undefined, 'the secondary answered after the timeout');
    assert.equal(primary.healthy, false);
    assert.match(primary.lastError ?? '', /no answer from .* in time/);
    assert.ok(primary.retryAt >= first.failedFrom + 1000 && primary.retryAt <= first.failedBy + 1000, 'back-off 1 s after the first failure');
    assert.deepEqual(forwarder.order(primary.retryAt - 1), [secondary, primary], 'at the back during its back-off');
    assert.deepEqual(forwarder.order(primary.retryAt), [primary, secondary], 'leads again once it ends');

    // During the back-off a query goes straight to the secondary: the primary is not asked.
    const asked = primary.queries;
    const during = await run(2, primary.retryAt - 1, false);
    assert.ok(during.job.reply !== undefined);
    assert.equal(primary.queries, asked, 'not asked during its back-off');
    assert.equal(silent.received(), 1);

    // Once it ends, real traffic probes it; a second timeout doubles the back-off.
    const probe = await run(3, primary.retryAt, true);
    assert.ok(probe.job.reply !== undefined, 'answered by the secondary after the probe timed out');
    assert.equal(primary.consecutiveFailures, 2);
    assert.ok(primary.retryAt >= probe.failedFrom + 2000 && primary.retryAt <= probe.failedBy + 2000, 'back-off 2 s after the second failure');

    // It answers again: probed, healthy, first in line.
    silent.answer(true);
    const job = new Job(4);
    job.start(forwarder, primary.retryAt);
    await waitFor('job 4 answered', () => job.finished, 5000, 5);
    assert.equal(silent.received(), 3, 'answered by the primary');
    assert.equal(primary.healthy, true);
    assert.equal(primary.consecutiveFailures, 0);
    assert.deepEqual(forwarder.order(Date.now()), [primary, secondary]);
  });
});
