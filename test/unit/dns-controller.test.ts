/**
 * The DNS controller without root: real listeners and a fake upstream on loopback ports, manifests
 * in a temp dir. Start, reload (routes swapped, listeners kept, added and removed), and the error
 * paths: a port in use, a bad reload that leaves the old setup answering, rejected manifests, an
 * upstream that never answers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packet, type Resource } from 'dns2';
import { DnsController } from '../../src/dns/controller.js';
import { AgentError, ErrorCode } from '../../src/errors.js';
import { buildQuery, QType, Rcode } from '../../src/dns/wire.js';
import type { Config } from '../../src/config/schema.js';
import { defaultsWith, testContext } from '../helpers/controller-context.js';
import { waitFor } from '../helpers/exec.js';
import { testPort } from '../helpers/ports.js';

interface Answer {
  rcode: number;
  addresses: string[];
}

/** One UDP query to 127.0.0.1:port; undefined when nothing answers within `ms`. */
async function ask(port: number, name: string, ms = 3000): Promise<Answer | undefined> {
  const sock = createSocket('udp4');
  try {
    const id = Math.floor(Math.random() * 65535);
    const reply = new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      sock.on('message', (msg) => {
        if (msg.readUInt16BE(0) !== id) return;
        clearTimeout(timer);
        resolve(msg);
      });
    });
    sock.send(buildQuery(id, name, QType.A, { rd: true }), port, '127.0.0.1');
    const msg = await reply;
    if (msg === undefined) return undefined;
    const packet = Packet.parse(msg);
    return { rcode: packet.header.rcode, addresses: packet.answers.map((a: Resource) => a.address ?? '') };
  } finally {
    sock.close();
  }
}

/** An upstream that answers every A query with `address` (or never, when `address` is undefined). */
async function fakeUpstream(address: string | undefined): Promise<{ port: number; queries: number; close(): void }> {
  const sock: Socket = createSocket('udp4');
  const state = { port: 0, queries: 0, close: () => sock.close() };
  sock.on('message', (msg, from) => {
    state.queries += 1;
    if (address === undefined) return;
    const query = Packet.parse(msg);
    const reply = new Packet();
    reply.header.id = query.header.id;
    reply.header.qr = 1;
    reply.header.rd = 1;
    reply.header.ra = 1;
    reply.questions = query.questions;
    const name = query.questions[0]?.name ?? '';
    reply.answers.push({ name, type: QType.A, class: 1, ttl: 300, address } as Resource);
    sock.send(reply.toBuffer(), from.port, from.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  state.port = sock.address().port;
  return state;
}

async function dnsConfig(dir: string, listen: number[], upstream: number, edit: (c: Config) => void = () => undefined): Promise<Config> {
  return defaultsWith((c) => {
    c.stateDir = join(dir, 'state');
    c.dns.enabled = true;
    c.dns.listen = listen.map((p) => `127.0.0.1:${p}`);
    c.dns.upstreams = [`127.0.0.1:${upstream}`];
    c.dns.hosts = [{ name: 'istio-pilot', addresses: ['192.168.0.62'] }];
    edit(c);
  });
}

const MANIFEST = (address: string): string => `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: httpbin-bar, namespace: default }
spec:
  hosts: [httpbin.bar.global]
  location: MESH_INTERNAL
  resolution: DNS
  addresses: [${address}]
  ports: [{ name: http, number: 8000, protocol: http }]
`;

void describe('dns controller (loopback sockets, no root)', () => {
  void test('start answers hosts, ServiceEntries and forwarded names; a repeat is a cache hit; stop frees the port', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-dnsc-'));
    const upstream = await fakeUpstream('93.184.215.14');
    const ctx = testContext();
    const port = testPort();
    await writeFile(join(dir, 'se.yaml'), MANIFEST('240.0.0.2'));
    const dns = new DnsController(await dnsConfig(dir, [port], upstream.port, (c) => (c.dns.serviceEntries.paths = [join(dir, 'se.yaml')])), ctx);
    try {
      assert.equal(dns.ready().ready, false);
      await dns.start();
      assert.equal(dns.ready().ready, true, dns.ready().reason);
      assert.deepEqual(await ask(port, 'istio-pilot'), { rcode: Rcode.NoError, addresses: ['192.168.0.62'] });
      assert.deepEqual(await ask(port, 'httpbin.bar.global'), { rcode: Rcode.NoError, addresses: ['240.0.0.2'] });
      assert.deepEqual(await ask(port, 'example.com'), { rcode: Rcode.NoError, addresses: ['93.184.215.14'] });
      assert.deepEqual(await ask(port, 'example.com'), { rcode: Rcode.NoError, addresses: ['93.184.215.14'] });
      assert.equal(upstream.queries, 1, 'the repeat came from the cache');
      const status = dns.status();
      assert.equal(status.cache.hits, 1);
      assert.equal(status.mesh.hosts, 1);
      assert.deepEqual(status.listeners.map((l) => l.address), [`127.0.0.1:${port}`]);
      assert.deepEqual(ctx.reported, []);
    } finally {
      await dns.stop();
      upstream.close();
    }
    // The port is free again: binding it succeeds.
    const probe = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind(port, '127.0.0.1', resolve);
    });
    probe.close();
    await rm(dir, { recursive: true, force: true });
  });

  void test('reload swaps routes at once (cache cleared), keeps serving on an address that stays, adds and removes others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-dnsc-'));
    const upstream = await fakeUpstream('93.184.215.14');
    const other = await fakeUpstream('198.51.100.7');
    const [a, b] = [testPort(), testPort()];
    const dns = new DnsController(await dnsConfig(dir, [a], upstream.port), testContext());
    try {
      await dns.start();
      assert.deepEqual((await ask(a, 'example.com'))?.addresses, ['93.184.215.14']);
      await dns.reload(
        await dnsConfig(dir, [a, b], other.port, (c) => {
          c.dns.hosts = [{ name: 'istio-pilot', addresses: ['192.168.0.99'] }];
        }),
      );
      assert.deepEqual((await ask(a, 'istio-pilot'))?.addresses, ['192.168.0.99'], 'the old listener serves the new hosts');
      assert.deepEqual((await ask(b, 'istio-pilot'))?.addresses, ['192.168.0.99'], 'the new listener too');
      assert.deepEqual((await ask(a, 'example.com'))?.addresses, ['198.51.100.7'], 'the cached answer of the old upstream is gone');
      await dns.reload(await dnsConfig(dir, [b], other.port));
      assert.equal(await ask(a, 'istio-pilot', 500), undefined, 'the removed listener is closed');
      assert.deepEqual((await ask(b, 'istio-pilot'))?.addresses, ['192.168.0.62']);
    } finally {
      await dns.stop();
      upstream.close();
      other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('a port in use fails start with MNA_DNS_FAILED naming the address; a reload that cannot bind leaves the running listener answering', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-dnsc-'));
    const upstream = await fakeUpstream('93.184.215.14');
    const squatter = createSocket('udp4');
    const taken = testPort();
    await new Promise<void>((resolve) => squatter.bind(taken, '127.0.0.1', resolve));
    const good = testPort();
    const failing = new DnsController(await dnsConfig(dir, [taken], upstream.port), testContext());
    const dns = new DnsController(await dnsConfig(dir, [good], upstream.port), testContext());
    try {
      await assert.rejects(failing.start(), (err: unknown) => err instanceof AgentError && err.code === ErrorCode.DnsFailed && err.message.includes(`127.0.0.1:${taken}`));
      await failing.stop();
      await dns.start();
      await assert.rejects(dns.reload(await dnsConfig(dir, [good, taken], upstream.port)), (err: unknown) => err instanceof AgentError && err.message.includes(`127.0.0.1:${taken}`));
      assert.deepEqual((await ask(good, 'istio-pilot'))?.addresses, ['192.168.0.62'], 'the running listener still answers');
    } finally {
      await dns.stop();
      squatter.close();
      upstream.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('a rejected manifest is reported and the last good table keeps answering; an upstream that never answers gives SERVFAIL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-dnsc-'));
    const silent = await fakeUpstream(undefined);
    const ctx = testContext();
    const port = testPort();
    const manifest = join(dir, 'se.yaml');
    await writeFile(manifest, MANIFEST('240.0.0.2'));
    const dns = new DnsController(await dnsConfig(dir, [port], silent.port, (c) => (c.dns.serviceEntries.paths = [manifest])), ctx);
    try {
      await dns.start();
      await writeFile(manifest, 'spec: [this is not a ServiceEntry\n');
      await waitFor('the rejected manifest reported', () => ctx.reported.length > 0, 10_000);
      assert.equal(ctx.reported.length, 1, 'the rejected manifest is reported once');
      assert.ok(ctx.reported[0] instanceof AgentError && ctx.reported[0].code === ErrorCode.DnsFailed);
      assert.match(dns.ready().reason ?? '', /serving the last good mesh table/);
      assert.deepEqual((await ask(port, 'httpbin.bar.global'))?.addresses, ['240.0.0.2']);
      const failed = await ask(port, 'nowhere.example', 6000);
      assert.equal(failed?.rcode, Rcode.ServFail);
      assert.ok(silent.queries >= 1);
    } finally {
      await dns.stop();
      silent.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
