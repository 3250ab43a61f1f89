/**
 * The real agent (`mesh-node-agent run`) capturing real traffic in namespaces this test creates:
 * a "vm" namespace (agent, stand-in proxy listeners, stand-in DNS listener) and a "peer"
 * namespace (the service network and an inbound client), joined by a veth pair.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stripSaveNoise } from '../../src/capture/save-parse.js';
import { cliArgv, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { testPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/exec.js';
import { connect, createNetns, type Netns } from '../helpers/netns.js';

const APP_UID = 4242; // any non-proxy, non-root user
const PROXY_UID = 4243; // capture.proxyUser, given as a number
const AGENT_GID = 22000 + (process.pid % 1000); // capture.agentGroup: the agent joins it at start
const VM_IP = '10.77.0.1';
const PEER_IP = '10.77.0.2';
const SERVICE_IP = '10.96.0.10';
const RESOLVER = '127.0.0.53';

/** Listeners answering with their tag: TCP writes it and closes, UDP replies with it. */
const LISTENER = `
const net = require('node:net'); const dgram = require('node:dgram');
const specs = JSON.parse(process.env.LISTEN);
let pending = specs.length;
const up = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
for (const s of specs) {
  if (s.proto === 'tcp') net.createServer((c) => c.end(s.tag)).listen(s.port, s.host, up);
  else { const u = dgram.createSocket(s.host.includes(':') ? 'udp6' : 'udp4'); u.on('message', (m, r) => u.send(s.tag, r.port, r.address)); u.bind(s.port, s.host, up); }
}`;

/** One request; prints the answer, or "timeout"/"error:<code>". */
const CLIENT = `
const net = require('node:net'); const dgram = require('node:dgram');
const t = JSON.parse(process.env.TARGET);
const done = (s) => { process.stdout.write(s); process.exit(0); };
setTimeout(() => done('timeout'), 2500);
if (t.proto === 'tcp') { let b = ''; const c = net.connect(t.port, t.host); c.on('data', (d) => (b += d)); c.on('end', () => done(b)); c.on('error', (e) => done('error:' + e.code)); }
else { const u = dgram.createSocket('udp4'); u.on('message', (m, r) => done(m.toString() + '@' + r.address + ':' + r.port)); u.send('q', t.port, t.host); }`;

const FOREIGN = '*nat\n:DOCKER - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\nCOMMIT\n*raw\n-A PREROUTING -p udp --dport 4789 -j NOTRACK\nCOMMIT\n*filter\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n';

/** `groups`: run the listeners with these supplementary groups (the agent's DNS stand-in holds the agent's group). */
async function startListeners(ns: Netns, specs: object[], groups: readonly number[] = []): Promise<ChildProcess> {
  const asGroups = groups.length === 0 ? [] : ['setpriv', `--groups=${groups.join(',')}`];
  const [cmd = process.execPath, ...args] = [...asGroups, process.execPath, '-e', LISTENER];
  const child = ns.spawn(cmd, args, { env: { ...process.env, LISTEN: JSON.stringify(specs) } });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(`listeners in ${ns.name}`, () => {
    if (child.exitCode !== null) throw new Error(`listeners exited: ${out}`);
    return out.includes('ready');
  });
  return child;
}

/** A connect as uid/gid with exactly the supplementary `groups` (none by default): root included. */
async function ask(ns: Netns, uid: number, target: { proto: 'tcp' | 'udp'; host: string; port: number }, gid = uid, groups: readonly number[] = []): Promise<string> {
  const asUser = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, ...(groups.length === 0 ? ['--clear-groups'] : [`--groups=${groups.join(',')}`])];
  // env(1) sets the target; setpriv (when used) keeps the environment.
  const withEnv = await ns.run('env', [`TARGET=${JSON.stringify(target)}`, ...asUser, process.execPath, '-e', CLIENT]);
  assert.equal(withEnv.code, 0, withEnv.stderr);
  return withEnv.stdout;
}

async function captureStatus(agent: AgentHandle): Promise<Record<string, unknown> | undefined> {
  const body = JSON.parse((await agent.get('/status')).body) as { controllers?: Record<string, Record<string, unknown>> };
  return body.controllers?.capture;
}

async function saveAll(ns: Netns): Promise<string> {
  return `${stripSaveNoise(await ns.must('iptables-save', []))}\n--v6--\n${stripSaveNoise(await ns.must('ip6tables-save', []))}`;
}

describe('capture with the real agent', () => {
  let vm: Netns;
  let peer: Netns;
  let dir: string;
  let baseline: string;
  let agent: AgentHandle | undefined;
  const dnsPort = testPort();
  const statusPort = testPort();
  const captureConfig = {
    capture: {
      enabled: true,
      inboundPorts: '*',
      localExcludePorts: [15090],
      serviceCIDRs: ['10.96.0.0/16'],
      proxyUser: String(PROXY_UID),
      agentGroup: String(AGENT_GID),
      outboundPort: 15001,
      inboundPort: 15006,
      dns: true,
      cleanupOnStop: true,
      resync: '500ms',
    },
    dns: { listen: [`127.0.0.1:${dnsPort}`] },
  };

  before(async () => {
    vm = await createNetns('cap');
    peer = await createNetns('cap');
    await connect({ ns: vm, address: `${VM_IP}/24` }, { ns: peer, address: `${PEER_IP}/24` });
    await vm.ip('route', 'add', '10.96.0.0/16', 'via', PEER_IP);
    await peer.ip('addr', 'add', `${SERVICE_IP}/32`, 'dev', 'lo');
    await vm.must('iptables-restore', ['--noflush'], FOREIGN);
    baseline = await saveAll(vm);
    await startListeners(vm, [
      { proto: 'tcp', host: '0.0.0.0', port: 15001, tag: 'outbound-port' },
      { proto: 'tcp', host: '0.0.0.0', port: 15006, tag: 'inbound-port' },
      { proto: 'tcp', host: '0.0.0.0', port: 22, tag: 'ssh' },
      { proto: 'tcp', host: '0.0.0.0', port: 8080, tag: 'app' },
      { proto: 'udp', host: RESOLVER, port: 53, tag: 'upstream-resolver' },
    ]);
    // The agent's DNS listener, played by a process in the agent's group as the agent is: its
    // replies get the app-side conntrack zone through the group's owner match.
    await startListeners(vm, [{ proto: 'udp', host: '127.0.0.1', port: dnsPort, tag: 'agent-dns' }], [AGENT_GID]);
    await startListeners(peer, [{ proto: 'tcp', host: SERVICE_IP, port: 80, tag: 'service-direct' }]);
    dir = await mkdtemp(join(tmpdir(), 'mna-cap-'));
    await mkdir(join(dir, 'state'), { recursive: true });
    // The copy the DNS controller saves; capture reads the nameservers from it.
    await writeFile(join(dir, 'state', 'resolv.conf'), `nameserver ${RESOLVER}\n`);
  });

  after(async () => {
    await agent?.cleanup();
    await vm.destroy();
    await peer.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('before the agent: nothing is captured', async () => {
    assert.equal(await ask(vm, APP_UID, { proto: 'tcp', host: SERVICE_IP, port: 80 }), 'service-direct');
    assert.equal(await ask(peer, 0, { proto: 'tcp', host: VM_IP, port: 8080 }), 'app');
  });

  test('agent up: outbound, inbound and DNS capture on the real kernel', async () => {
    agent = await startAgent({ ns: vm, dir, statusPort, config: captureConfig });
    await agent.waitReady();

    // A non-proxy user's connect to a service CIDR lands on the outbound port.
    assert.equal(await ask(vm, APP_UID, { proto: 'tcp', host: SERVICE_IP, port: 80 }), 'outbound-port');
    // The proxy user's connect is not redirected. Root as such is captured, like any user (Istio
    // exempts only the proxy's uid/gid); a process holding the agent's group, as the agent does,
    // is not, whether the group is its primary or a supplementary one.
    assert.equal(await ask(vm, PROXY_UID, { proto: 'tcp', host: SERVICE_IP, port: 80 }), 'service-direct');
    assert.equal(await ask(vm, 0, { proto: 'tcp', host: SERVICE_IP, port: 80 }), 'outbound-port');
    assert.equal(await ask(vm, 0, { proto: 'tcp', host: SERVICE_IP, port: 80 }, 0, [AGENT_GID]), 'service-direct');
    assert.equal(await ask(vm, 0, { proto: 'tcp', host: SERVICE_IP, port: 80 }, AGENT_GID), 'service-direct');
    // Another uid running with the proxy's group bypasses too (Istio's --gid-owner rules).
    assert.equal(await ask(vm, APP_UID + 10, { proto: 'tcp', host: SERVICE_IP, port: 80 }, PROXY_UID), 'service-direct');
    // Inbound: a captured port reaches the inbound port; SSH is never captured.
    assert.equal(await ask(peer, 0, { proto: 'tcp', host: VM_IP, port: 8080 }), 'inbound-port');
    assert.equal(await ask(peer, 0, { proto: 'tcp', host: VM_IP, port: 22 }), 'ssh');
    // DNS to the resolv.conf nameserver reaches the listener at dns.listen, and the reply
    // comes back from the address the client asked.
    assert.equal(await ask(vm, APP_UID, { proto: 'udp', host: RESOLVER, port: 53 }), `agent-dns@${RESOLVER}:53`);
    // Root's query is captured too; the agent's own upstream query (its group) to the same
    // nameserver is not (no loop).
    assert.equal(await ask(vm, 0, { proto: 'udp', host: RESOLVER, port: 53 }), `agent-dns@${RESOLVER}:53`);
    assert.equal(await ask(vm, 0, { proto: 'udp', host: RESOLVER, port: 53 }, 0, [AGENT_GID]), `upstream-resolver@${RESOLVER}:53`);

    const capture = await captureStatus(agent);
    assert.equal(capture?.verified, true);
    assert.equal(capture?.backend, /legacy/.test(await vm.must('iptables', ['-V'])) ? 'legacy' : 'nft');
    assert.deepEqual((capture?.dns as { nameservers: string[] }).nameservers, [RESOLVER]);
    assert.deepEqual(capture?.agent, { group: String(AGENT_GID), gid: AGENT_GID });
    const nat = await vm.must('iptables-save', ['-t', 'nat']);
    assert.match(nat, new RegExp(`^-A ISTIO_OUTPUT -m owner --gid-owner ${AGENT_GID} --suppl-groups -j RETURN$`, 'm'));
    assert.doesNotMatch(nat, /--(uid|gid)-owner 0\b/);
    assert.ok(((capture?.rulesApplied as { ipv4: number }).ipv4) > 10);
    const metrics = (await agent.get('/metrics')).body;
    assert.match(metrics, /mesh_node_agent_capture_verified 1/);
  });

  test('drift is repaired by the resync timer', async () => {
    assert.ok(agent !== undefined);
    const repairsBefore = Number((await captureStatus(agent))?.driftRepairs);
    // Another tool flushes our inbound chain (the resync timer may repair it at any moment).
    await vm.must('iptables', ['-t', 'nat', '-F', 'ISTIO_INBOUND']);
    await waitFor('drift repair', async () => {
      const capture = await captureStatus(agent!);
      return Number(capture?.driftRepairs) > repairsBefore && capture?.verified === true;
    });
    assert.match(await vm.must('iptables-save', ['-t', 'nat']), /-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT/);
    assert.equal(await ask(peer, 0, { proto: 'tcp', host: VM_IP, port: 8080 }), 'inbound-port');
    assert.match((await agent.get('/metrics')).body, /mesh_node_agent_capture_drift_repairs_total [1-9]/);
  });

  test('reload: a proxy user that cannot be resolved keeps the running rules; a good change is applied', async () => {
    assert.ok(agent !== undefined);
    const running = agent;
    const before = await saveAll(vm);
    await running.writeConfig({ ...captureConfig, capture: { ...captureConfig.capture, proxyUser: 'no-such-user' } });
    running.proc.kill('SIGHUP');
    await waitFor('reload error reported', async () => JSON.stringify((await captureStatus(running))?.lastError ?? '').includes('no-such-user'));
    assert.equal(await saveAll(vm), before);
    assert.equal(await ask(vm, APP_UID, { proto: 'tcp', host: SERVICE_IP, port: 80 }), 'outbound-port');

    await running.writeConfig({ ...captureConfig, capture: { ...captureConfig.capture, serviceCIDRs: ['10.96.0.0/16', '10.97.0.0/16'] } });
    running.proc.kill('SIGHUP');
    await waitFor('new service CIDR installed', async () => (await vm.must('iptables-save', ['-t', 'nat'])).includes('-A ISTIO_OUTPUT -d 10.97.0.0/16 -j ISTIO_REDIRECT'));
    await waitFor('verified again', async () => (await captureStatus(running))?.verified === true);
  });

  test('stop with cleanupOnStop: iptables-save equals what it was before start, traffic flows direct', async () => {
    assert.ok(agent !== undefined);
    const stopped = await agent.stop('SIGTERM');
    assert.equal(stopped.code, 0, agent.logs().slice(-2000));
    agent = undefined;
    assert.equal(await saveAll(vm), baseline);
    assert.equal(await ask(vm, APP_UID, { proto: 'tcp', host: SERVICE_IP, port: 80 }), 'service-direct');
  });

  test('after a crash, start is idempotent; run --cleanup-only removes the rules', async () => {
    const keep = { ...captureConfig, capture: { ...captureConfig.capture, cleanupOnStop: false } };
    agent = await startAgent({ ns: vm, dir, statusPort, config: keep });
    await agent.waitReady();
    const installed = await saveAll(vm);
    await agent.stop('SIGKILL');
    agent = undefined;
    assert.equal(await saveAll(vm), installed, 'a crash leaves the rules');

    agent = await startAgent({ ns: vm, dir, statusPort, config: keep });
    await agent.waitReady();
    assert.equal(await saveAll(vm), installed, 'restart over the crash residue: same rules, no duplicates');
    assert.equal(await ask(vm, APP_UID, { proto: 'tcp', host: SERVICE_IP, port: 80 }), 'outbound-port');
    await agent.stop('SIGTERM');
    agent = undefined;
    assert.equal(await saveAll(vm), installed, 'cleanupOnStop: false keeps them');

    const [node, ...args] = cliArgv('run', '--cleanup-only', '--config', join(dir, 'config.yaml'));
    const cleanup = await vm.run(node ?? process.execPath, args);
    assert.equal(cleanup.code, 0, `${cleanup.stdout}${cleanup.stderr}`);
    assert.equal(await saveAll(vm), baseline);
  });
  test('an unresolvable proxy user at start: agent up but not ready, nothing installed; a fixed config recovers', async () => {
    const bad = { ...captureConfig, capture: { ...captureConfig.capture, proxyUser: 'mna-no-such-user' } };
    agent = await startAgent({ ns: vm, dir, statusPort, config: bad });
    const running = agent;
    // The deadline covers the agent's own start (tsx, a loaded machine) as waitReady's does.
    await waitFor('capture not ready with the reason', async () => {
      if (running.proc.exitCode !== null) throw new Error(`agent exited ${running.proc.exitCode}: ${running.logs().slice(-2000)}`);
      const capture = await captureStatus(running);
      return capture?.ready === false && String(capture.reason).includes('mna-no-such-user');
    }, 30_000);
    assert.equal((await running.get('/readyz')).status, 503);
    assert.equal(await saveAll(vm), baseline, 'no partial rules');
    await running.writeConfig(captureConfig);
    running.proc.kill('SIGHUP');
    await running.waitReady();
    assert.equal(await ask(vm, APP_UID, { proto: 'tcp', host: SERVICE_IP, port: 80 }), 'outbound-port');
    assert.equal((await running.stop('SIGTERM')).code, 0);
    agent = undefined;
    assert.equal(await saveAll(vm), baseline);
  });
});
