/**
 * Capture like istio-iptables: only the proxy's uid/gid and the agent's own group bypass, never
 * root as such. The real agent runs in a "vm" namespace with capture of every outbound TCP
 * connection (serviceCIDRs "*") and DNS capture on, while its CA (istiod stand-in), flannel's
 * etcd and its upstream DNS server (dnsmasq) live in a "peer" namespace: it still gets its
 * certificate, publishes its lease and forwards queries, so its own traffic is not captured. A
 * root process that is not the agent, and the agent's onRotate hook, are captured: their connects
 * land on a listener this test runs on the redirect port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { startDemoCa, type DemoCa } from '../helpers/demo-ca.js';
import { waitFor } from '../helpers/exec.js';
import { connect, createNetns, type Netns } from '../helpers/netns.js';
import { testPort } from '../helpers/ports.js';
import { startEtcd, type EtcdServer } from '../helpers/registry-etcd.js';
import { PREFIX } from '../helpers/registry-flannel.js';
import { startDnsmasq } from './dns-fixture.js';

const VM_IP = '10.79.0.1';
const PEER_IP = '10.79.0.2';
const OUTBOUND_PORT = 15001;
const AGENT_GID = 23000 + (process.pid % 1000);
const PROXY_UID = 4343;
const SPIFFE = 'spiffe://cluster.local/ns/default/sa/deb-nginx01';

/** A TCP listener that answers with its tag and closes. */
const TAGGER = `require('node:net').createServer((c) => c.end(process.env.TAG)).listen(Number(process.env.PORT), process.env.HOST, () => process.stdout.write('ready\\n'));`;

/** One TCP connect to HOST:PORT; prints what came back, or "error:<code>"/"timeout". */
const CLIENT = `const c = require('node:net').connect(Number(process.env.PORT), process.env.HOST); let b = '';
const done = (s) => { process.stdout.write(s); process.exit(0); }; setTimeout(() => done('timeout'), 2500);
c.on('data', (d) => (b += d)); c.on('end', () => done(b)); c.on('error', (e) => done('error:' + e.code));`;

async function tagger(ns: Netns, host: string, port: number, tag: string): Promise<ChildProcess> {
  const child = ns.spawn(process.execPath, ['-e', TAGGER], { env: { ...process.env, TAG: tag, HOST: host, PORT: String(port) } });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(`${tag} listener`, () => {
    if (child.exitCode !== null) throw new Error(`${tag} listener exited`);
    return out.includes('ready');
  });
  return child;
}

describe('capture: root is captured, the agent still reaches its CA, etcd and upstream DNS', () => {
  let vm: Netns;
  let peer: Netns;
  let dir: string;
  let ca: DemoCa | undefined;
  let etcd: EtcdServer | undefined;
  let agent: AgentHandle | undefined;
  const dnsPort = testPort();

  /** A connect from the vm namespace as root (uid 0, gid 0) with exactly `groups`. */
  const rootConnect = async (port: number, groups: readonly number[] = []): Promise<string> => {
    const creds = ['--reuid=0', '--regid=0', groups.length === 0 ? '--clear-groups' : `--groups=${groups.join(',')}`];
    const r = await vm.run('env', [`HOST=${PEER_IP}`, `PORT=${port}`, 'setpriv', ...creds, process.execPath, '-e', CLIENT]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const dig = async (name: string): Promise<string> => {
    // dig runs as root without the agent's group, like any root process on the VM.
    const r = await vm.run('setpriv', ['--clear-groups', 'dig', `@${PEER_IP}`, '+short', '+tries=1', '+time=3', name, 'A']);
    return r.stdout.trim();
  };

  before(async () => {
    vm = await createNetns('tccvm');
    peer = await createNetns('tccpeer');
    await connect({ ns: vm, address: `${VM_IP}/24`, ifname: 'eth0' }, { ns: peer, address: `${PEER_IP}/24` });
    dir = await mkdtemp(join(tmpdir(), 'mna-tcc-'));
    await mkdir(join(dir, 'state'), { recursive: true });
    // The host's resolver, as the DNS controller saved it: the agent's default upstream, and the
    // nameserver whose traffic DNS capture redirects to the agent.
    await writeFile(join(dir, 'state', 'resolv.conf'), `nameserver ${PEER_IP}\n`);
    await writeFile(join(dir, 'client.js'), CLIENT);
    // The hook records only once armed (after capture is verified): earlier runs predate the rules.
    await writeFile(join(dir, 'hook.sh'), `[ -e '${join(dir, 'hook-armed')}' ] || exit 0\nid -G > '${join(dir, 'hook-groups')}'\nHOST=${PEER_IP} PORT=8080 '${process.execPath}' '${join(dir, 'client.js')}' > '${join(dir, 'hook-connect')}'\n`);

    await tagger(peer, PEER_IP, 8080, 'service-direct');
    await tagger(vm, '0.0.0.0', OUTBOUND_PORT, 'outbound-port');
    await startDnsmasq(peer, PEER_IP, ['--host-record=upstream-only.test,10.9.9.9']);
    ca = await startDemoCa({ ns: peer, host: PEER_IP, port: 15012, dir: join(dir, 'ca'), bootstrapDir: join(dir, 'bootstrap'), identity: SPIFFE });
    etcd = await startEtcd({ ns: peer, host: PEER_IP });
    await peer.must('etcdctl', ['--endpoints', etcd.endpoint, 'put', `${PREFIX}/config`, '{"Network":"10.234.0.0/16","Backend":{"Type":"vxlan"}}']);

    agent = await startAgent({
      ns: vm,
      dir,
      config: {
        identity: {
          enabled: true,
          ca: { protocol: 'istiod', address: ca.address, serverName: 'istiod.istio-system.svc', rootCert: ca.rootCertPath, tokenFile: ca.tokenPath },
          spiffe: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'deb-nginx01' },
          certDir: join(dir, 'certs'),
          owner: '',
          // Short-lived certificates: the hook runs again after capture is in place.
          ttl: '6s',
          graceRatio: 0.5,
          graceJitter: 0,
          onRotate: `sh '${join(dir, 'hook.sh')}'`,
        },
        overlay: { enabled: true, underlay: { interface: 'eth0' }, etcd: { endpoints: [etcd.endpoint], register: true } },
        capture: { enabled: true, inboundPorts: '', serviceCIDRs: ['*'], proxyUser: String(PROXY_UID), agentGroup: String(AGENT_GID), outboundPort: OUTBOUND_PORT, dns: true },
        dns: { enabled: true, listen: [`127.0.0.1:${dnsPort}`], hosts: [{ name: 'agent-only.test', addresses: ['10.8.8.8'] }] },
      },
    });
    await agent.waitReady(45_000);
  });

  after(async () => {
    await agent?.cleanup();
    await etcd?.cleanup();
    await ca?.stop();
    await vm?.destroy();
    await peer?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('the rules exempt the proxy and the agent group, never root', async () => {
    const nat = await vm.must('iptables-save', ['-t', 'nat']);
    assert.match(nat, new RegExp(`^-A ISTIO_OUTPUT -m owner --gid-owner ${AGENT_GID} --suppl-groups -j RETURN$`, 'm'));
    assert.match(nat, new RegExp(`^-A ISTIO_OUTPUT -m owner --uid-owner ${PROXY_UID} -j RETURN$`, 'm'));
    assert.match(nat, /^-A ISTIO_OUTPUT -j ISTIO_REDIRECT$/m);
    assert.doesNotMatch(nat, /--(uid|gid)-owner 0\b/);
  });

  test('a root process that is not the agent is captured: its connect lands on the redirect port', async () => {
    assert.equal(await rootConnect(8080), 'outbound-port');
    // The same connect holding the agent's group goes straight through (the rules work as written).
    assert.equal(await rootConnect(8080, [AGENT_GID]), 'service-direct');
  });

  test('the agent reached its CA through capture: certificate issued for its identity', async () => {
    const status = JSON.parse((await agent!.get('/status')).body) as { controllers: Record<string, Record<string, unknown>> };
    assert.equal(status.controllers.identity?.spiffeId, SPIFFE);
    assert.equal(status.controllers.identity?.ready, true);
    assert.match(await readFile(join(dir, 'certs', 'cert-chain.pem'), 'utf8'), /BEGIN CERTIFICATE/);
    assert.equal(status.controllers.capture?.verified, true);
    assert.deepEqual(status.controllers.capture?.agent, { group: String(AGENT_GID), gid: AGENT_GID });
  });

  test('the agent reached etcd through capture: its lease is in the registry and the overlay is ready', async () => {
    const leases = await waitFor('the agent lease in etcd', async () => {
      const out = await peer.must('etcdctl', ['--endpoints', etcd!.endpoint, 'get', '--prefix', '--keys-only', `${PREFIX}/subnets/`]);
      return out.trim() === '' ? undefined : out;
    });
    assert.match(leases, /\/coreos\.com\/network\/subnets\/10\.234\.\d+\.0-24/);
    const value = await peer.must('etcdctl', ['--endpoints', etcd!.endpoint, 'get', '--prefix', '--print-value-only', `${PREFIX}/subnets/`]);
    assert.match(value, new RegExp(`"PublicIP":"${VM_IP.replaceAll('.', '\\.')}"`));
  });

  test("root's DNS query is captured to the agent, and the agent's upstream query is not (no loop)", async () => {
    // Only the agent knows agent-only.test: root's query to the nameserver was redirected to it.
    assert.equal(await dig('agent-only.test'), '10.8.8.8');
    // Only dnsmasq in the peer knows upstream-only.test: the agent forwarded it and got through.
    assert.equal(await dig('upstream-only.test'), '10.9.9.9');
  });

  test('the onRotate hook runs outside the agent group: root with no groups, and captured', async () => {
    await writeFile(join(dir, 'hook-armed'), '');
    const groups = await waitFor('the hook to run again', async () => (await readFile(join(dir, 'hook-connect'), 'utf8').catch(() => '')) !== '' && readFile(join(dir, 'hook-groups'), 'utf8'), 20_000);
    assert.equal(groups.trim(), '0');
    assert.equal(await readFile(join(dir, 'hook-connect'), 'utf8'), 'outbound-port');
  });
});
