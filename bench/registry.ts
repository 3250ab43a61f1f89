/**
 * `npm run bench -- registry [LEASES=1000] [SAMPLES=200] [STEADY_SECONDS=30] [KINDS=etcd,kubernetes]`:
 * - etcd: the real agent in a namespace follows a registry of LEASES flannel leases in a real etcd;
 *   we time a new lease written → its route in the agent's kernel (and a deleted lease → route
 *   gone), against a reference in the same run: the same write seen by a bare etcd watch. Then,
 *   with only the agent connected, etcd's own gRPC counters give the agent's requests per minute
 *   in steady state.
 * - kubernetes: the real agent with overlay.kubernetes follows LEASES Nodes annotated as flanneld
 *   annotates them in a real kube-apiserver; fill + program time, then Node created → route and
 *   Node deleted → route gone, against a bare watch client on Nodes in the same run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startAgent, type AgentHandle } from '../test/helpers/agent-process.js';
import { run, sleep } from '../test/helpers/exec.js';
import { startKubeApiServer, type KubeApiServer } from '../test/helpers/kube-apiserver.js';
import { startNsEntry, type NsEntry } from '../test/helpers/kube-bridge.js';
import { createNetConf } from '../test/helpers/kube-flannel.js';
import { createNetns, type Netns } from '../test/helpers/netns.js';
import { startEtcd, type EtcdServer } from '../test/helpers/registry-etcd.js';
import { quantile } from './_stats.js';

const PREFIX = '/coreos.com/network';

/** etcd's server-side gRPC counters, summed per method. */
async function grpcCounters(ns: Netns, endpoint: string): Promise<{ started: Map<string, number>; received: number }> {
  const script = `fetch(${JSON.stringify(`${endpoint}/metrics`)}).then(r=>r.text()).then(t=>process.stdout.write(t))`;
  const text = (await ns.must(process.execPath, ['-e', script]));
  const started = new Map<string, number>();
  let received = 0;
  for (const line of text.split('\n')) {
    const s = /^grpc_server_started_total\{grpc_method="([^"]+)",grpc_service="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (s !== null) started.set(`${s[2]}/${s[1]}`, (started.get(`${s[2]}/${s[1]}`) ?? 0) + Number(s[3]));
    const r = /^grpc_server_msg_received_total\{[^}]*\} (\S+)/.exec(line);
    if (r !== null) received += Number(r[1]);
  }
  return { started, received };
}

const fmt = (n: number): string => n.toFixed(1);

/** The agent's resident memory (its pid is the node process: `ip netns exec` execs it). */
async function rssMb(agent: AgentHandle): Promise<number> {
  const status = await run('cat', [`/proc/${agent.proc.pid ?? 0}/status`]);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status.stdout)?.[1] ?? 0) / 1024;
}

export async function main(args: string[]): Promise<void> {
  const leases = Number(args[0] ?? 1000);
  const samples = Number(args[1] ?? 200);
  const steadySeconds = Number(args[2] ?? 30);
  const kinds = (args[3] ?? 'etcd,kubernetes').split(',');
  if (kinds.includes('etcd')) await etcdPart(leases, samples, steadySeconds);
  if (kinds.includes('kubernetes')) await kubePart(leases, samples);
}

async function etcdPart(leases: number, samples: number, steadySeconds: number): Promise<void> {
  let ns: Netns | undefined;
  let etcd: EtcdServer | undefined;
  let agent: AgentHandle | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'mna-bench-registry-'));
  try {
    ns = await createNetns('rgb');
    await ns.sh('ip link add eth0 type veth peer name eth0p && ip addr add 192.168.100.2/24 dev eth0 && ip link set eth0p up && ip link set eth0 up');
    etcd = await startEtcd({ ns, host: '127.0.0.1' });
    await ns.must('etcdctl', ['--endpoints', etcd.endpoint, 'put', `${PREFIX}/config`, '{"Network":"10.0.0.0/8","SubnetLen":24,"Backend":{"Type":"vxlan"}}']);
    agent = await startAgent({
      ns,
      dir,
      config: { log: { level: 'warn' }, overlay: { enabled: true, underlay: { interface: 'eth0' }, etcd: { endpoints: [etcd.endpoint], register: true }, resync: '30s' } },
    });
    await agent.waitReady(90_000);

    const driver = await run('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench/_registry-driver.ts'), etcd.endpoint, PREFIX, String(leases), String(samples)], { cwd: REPO_ROOT, timeout: 600_000 });
    if (driver.code !== 0) throw new Error(`driver failed: ${driver.stderr}\n${agent.logs().slice(-2000)}`);
    const r = JSON.parse(driver.stdout.trim().split('\n').at(-1) ?? '{}') as { fillMs: number; add: number[]; del: number[]; refAdd: number[]; refDel: number[] };

    // Steady state: only the agent talks to etcd now.
    await sleep(2000);
    const before = await grpcCounters(ns, etcd.endpoint);
    await sleep(steadySeconds * 1000);
    const after = await grpcCounters(ns, etcd.endpoint);
    const perMinute = 60 / steadySeconds;
    const rpcs: string[] = [];
    let rpcTotal = 0;
    for (const [method, n] of after.started) {
      const d = n - (before.started.get(method) ?? 0);
      if (d > 0) rpcs.push(`${method}=${d}`);
      rpcTotal += d;
    }
    // Our own /metrics fetches are HTTP, not gRPC; nothing else is connected.
    const msgs = after.received - before.received;

    const p99 = quantile(r.add, 0.99);
    const refP99 = quantile(r.refAdd, 0.99);
    console.log(`registry (etcd): agent following ${leases} leases (+ its own), ${samples} samples; fill + program ${leases} leases: ${fmt(r.fillMs)} ms; agent RSS ${fmt(await rssMb(agent))} MB`);
    console.log(`  lease written → route in kernel: p50 ${fmt(quantile(r.add, 0.5))} ms, p99 ${fmt(p99)} ms (target ≤ 50 ms: ${p99 <= 50 ? 'met' : 'MISSED'})`);
    console.log(`  lease deleted → route gone:      p50 ${fmt(quantile(r.del, 0.5))} ms, p99 ${fmt(quantile(r.del, 0.99))} ms`);
    console.log(`  reference, bare etcd watch:      add p50 ${fmt(quantile(r.refAdd, 0.5))} ms, p99 ${fmt(refP99)} ms; delete p99 ${fmt(quantile(r.refDel, 0.99))} ms`);
    const own = r.add.map((a, i) => a - (r.refAdd[i] ?? 0));
    console.log(`  agent's own share (route − watch, per sample): p50 ${fmt(quantile(own, 0.5))} ms, p90 ${fmt(quantile(own, 0.9))} ms, p99 ${fmt(quantile(own, 0.99))} ms`);
    console.log(`  ratio agent/reference (p99 add): ${(p99 / refP99).toFixed(2)}`);
    const servedBefore = [...before.started.values()].reduce((a, b) => a + b, 0);
    console.log(`  steady state over ${steadySeconds} s: ${fmt(rpcTotal * perMinute)} etcd RPCs/min${rpcs.length === 0 ? '' : ` (${rpcs.join(', ')})`}, ${fmt(msgs * perMinute)} gRPC messages/min received by etcd (etcd had served ${servedBefore} RPCs before the window)`);
  } finally {
    await agent?.cleanup();
    await etcd?.cleanup();
    await ns?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

async function kubePart(nodes: number, samples: number): Promise<void> {
  let ns: Netns | undefined;
  let api: KubeApiServer | undefined;
  let entry: NsEntry | undefined;
  let agent: AgentHandle | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'mna-bench-kreg-'));
  try {
    api = await startKubeApiServer('tkcb');
    await createNetConf(api.admin, 'kube-flannel', '{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}');
    ns = await createNetns('rgbk');
    await ns.sh('ip link add eth0 type veth peer name eth0p && ip addr add 192.168.100.2/24 dev eth0 && ip link set eth0p up && ip link set eth0 up');
    entry = await startNsEntry(ns, join(api.dir, 'bridge.sock'), 6443);
    await writeFile(join(dir, 'token'), api.env.ADMIN_TOKEN);
    agent = await startAgent({
      ns,
      dir,
      config: {
        log: { level: 'warn' },
        kubernetes: { server: entry.url, caFile: api.env.KUBE_CA_FILE, tokenFile: join(dir, 'token') },
        overlay: { enabled: true, underlay: { interface: 'eth0' }, kubernetes: { enabled: true, nodeName: 'bench-vm', allocatorWait: '0s' }, resync: '30s' },
      },
    });
    await agent.waitReady(90_000);
    const driver = await run('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench/_registry-kube-driver.ts'), entry.url, api.env.KUBE_CA_FILE, api.env.ADMIN_TOKEN, String(nodes), String(samples)], { cwd: REPO_ROOT, timeout: 900_000 });
    if (driver.code !== 0) throw new Error(`kube driver failed: ${driver.stderr}\n${agent.logs().slice(-2000)}`);
    const r = JSON.parse(driver.stdout.trim().split('\n').at(-1) ?? '{}') as { writtenMs: number; fillMs: number; add: number[]; del: number[]; refAdd: number[]; refDel: number[] };
    const p99 = quantile(r.add, 0.99);
    const refP99 = quantile(r.refAdd, 0.99);
    console.log(`registry (kubernetes): agent following ${nodes} Nodes (+ its own), ${samples} samples; fill + program ${nodes} Nodes: ${fmt(r.fillMs)} ms (the POSTs alone ${fmt(r.writtenMs)} ms); agent RSS ${fmt(await rssMb(agent))} MB`);
    console.log(`  Node created → route in kernel:  p50 ${fmt(quantile(r.add, 0.5))} ms, p99 ${fmt(p99)} ms`);
    console.log(`  Node deleted → route gone:       p50 ${fmt(quantile(r.del, 0.5))} ms, p99 ${fmt(quantile(r.del, 0.99))} ms`);
    console.log(`  reference, bare watch client:    add p50 ${fmt(quantile(r.refAdd, 0.5))} ms, p99 ${fmt(refP99)} ms; delete p99 ${fmt(quantile(r.refDel, 0.99))} ms`);
    const own = r.add.map((a, i) => a - (r.refAdd[i] ?? 0));
    console.log(`  agent's own share (route − watch, per sample): p50 ${fmt(quantile(own, 0.5))} ms, p90 ${fmt(quantile(own, 0.9))} ms, p99 ${fmt(quantile(own, 0.99))} ms`);
    console.log(`  ratio agent/reference (p99 add): ${(p99 / refP99).toFixed(2)}`);
  } finally {
    await agent?.cleanup();
    entry?.close();
    await api?.cleanup();
    await ns?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
