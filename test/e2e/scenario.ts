/**
 * The seeds' scenario end to end: builds the topology, starts the CA and the agent on the VM,
 * then runs one real check per report line. Shared by `npm run demo` (which prints the report)
 * and test/e2e/seed-scenario.test.ts (which asserts every line).
 */
import { mkdir, readFile, writeFile, copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cliArgv, REPO_ROOT, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { run, waitFor } from '../helpers/exec.js';
import { startDemoCa, type DemoCa } from '../helpers/demo-ca.js';
import { parseAllDocuments } from 'yaml';
import { resourcePath } from '../../src/kube/client.js';
import { getNode } from '../helpers/kube-flannel.js';
import { buildSeedTopology, KUBE_DNS_RECORDS, SEED_LB_IP, SEED_NODES, SEED_VM, type Topology } from '../helpers/seed-topology.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** The observed values the e2e test compares with what the scenario configured. */
  observed: Record<string, unknown>;
}

export interface Scenario {
  topology: Topology;
  agent: AgentHandle;
  ca: DemoCa;
  checks: Check[];
  /** The agent's `status` CLI output (a table), as a person would see it. */
  statusText: string;
  teardown(): Promise<void>;
}

export const EXAMPLE_DIR = join(REPO_ROOT, 'examples/demo');
export const EXPECTED_SPIFFE = 'spiffe://cluster.local/ns/default/sa/deb-nginx01';
export const EXPECTED_NAMES: Readonly<Record<string, string>> = {
  'nginx-v1.default.svc.cluster.local': KUBE_DNS_RECORDS['nginx-v1.default.svc.cluster.local'] ?? '',
  'istio-pilot': SEED_LB_IP,
  'httpbin.bar.global': '240.0.0.2',
};

export interface ScenarioOptions {
  /** flannel with --kube-subnet-mgr: a kube-apiserver instead of flannel's etcd, ServiceEntries in the cluster. */
  kubernetes?: boolean;
}

/** Copies examples/demo into `dir`, replacing @DEMO_DIR@ with it. */
async function prepareConfig(dir: string, configName: string): Promise<string> {
  const render = async (name: string, as = name): Promise<void> => {
    const text = await readFile(join(EXAMPLE_DIR, name), 'utf8');
    await writeFile(join(dir, as), text.replaceAll('@DEMO_DIR@', dir));
  };
  await render(configName, 'config.yaml');
  await render('cluster.env');
  await mkdir(join(dir, 'service-entries'), { recursive: true });
  for (const file of await readdir(join(EXAMPLE_DIR, 'service-entries'))) {
    await copyFile(join(EXAMPLE_DIR, 'service-entries', file), join(dir, 'service-entries', file));
  }
  return join(dir, 'config.yaml');
}

export async function runScenario(onStep: (message: string) => void, options: ScenarioOptions = {}): Promise<Scenario> {
  const kubernetes = options.kubernetes === true;
  const topology = await buildSeedTopology({ registry: !kubernetes, kubernetes, kubeDns: true, onStep });
  let agent: AgentHandle | undefined;
  let ca: DemoCa | undefined;
  const teardown = async (): Promise<void> => {
    await agent?.stop('SIGTERM').catch(() => undefined);
    await agent?.cleanup().catch(() => undefined);
    await ca?.stop().catch(() => undefined);
    await topology.destroy();
  };
  try {
    onStep(`istiod CA on ${SEED_LB_IP}:15012 (root, intermediate, and a token for the VM's service account)`);
    ca = await startDemoCa({ ns: topology.lb, host: SEED_LB_IP, port: 15012, dir: join(topology.dir, 'ca'), bootstrapDir: join(topology.dir, 'bootstrap'), identity: EXPECTED_SPIFFE });

    const configName = kubernetes ? 'config-kubernetes.yaml' : 'config.yaml';
    if (topology.kube !== undefined) {
      onStep('the seed\'s ServiceEntries applied to the cluster (examples/demo/service-entries)');
      for (const file of await readdir(join(EXAMPLE_DIR, 'service-entries'))) {
        for (const doc of parseAllDocuments(await readFile(join(EXAMPLE_DIR, 'service-entries', file), 'utf8'))) {
          const entry = doc.toJS() as { metadata: { namespace?: string } };
          await topology.kube.admin.create(resourcePath({ group: 'networking.istio.io', version: 'v1beta1', resource: 'serviceentries', namespace: entry.metadata.namespace ?? 'default' }), entry);
        }
      }
    }
    onStep(`VM: mesh-node-agent run --config examples/demo/${configName}`);
    const configPath = await prepareConfig(topology.dir, configName);
    const config = (await import('yaml')).parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    agent = await startAgent({ config, ns: topology.vm, statusPort: 15030, dir: topology.dir });
    // A deadline, not a wait: the scenario boots an agent beside etcd (or a kube-apiserver), a CA and three flanneld stand-ins.
    await agent.waitReady(90_000);

    onStep('checking');
    const checks: Check[] = [];
    checks.push(await checkCertificate(agent, topology));
    if (topology.kube !== undefined) checks.push(await checkNode(topology));
    checks.push(await checkOverlay(agent, topology));
    checks.push(await checkVmToPods(topology));
    checks.push(await checkPodsToVm(topology));
    checks.push(await checkDns(topology));
    checks.push(await checkCapture(topology));
    const status = await statusCli(topology);
    checks.push(status.check);
    return { topology, agent, ca, checks, statusText: status.text, teardown };
  } catch (err) {
    const logs = agent?.logs().slice(-4000);
    await teardown();
    if (logs !== undefined && err instanceof Error) err.message += `\nagent logs (tail):\n${logs}`;
    throw err;
  }
}

async function statusJson(agent: AgentHandle): Promise<{ controllers: Record<string, Record<string, unknown>> }> {
  return JSON.parse((await agent.get('/status')).body) as { controllers: Record<string, Record<string, unknown>> };
}

async function checkCertificate(agent: AgentHandle, topology: Topology): Promise<Check> {
  const identity = (await statusJson(agent)).controllers.identity ?? {};
  const certDir = join(topology.dir, 'certs');
  const verify = await run('openssl', ['verify', '-CAfile', join(certDir, 'root-cert.pem'), '-untrusted', join(certDir, 'cert-chain.pem'), join(certDir, 'cert-chain.pem')]);
  const spiffeId = typeof identity.spiffeId === 'string' ? identity.spiffeId : '';
  const notAfter = typeof identity.notAfter === 'string' ? identity.notAfter : '';
  return {
    name: 'certificate issued',
    ok: spiffeId === EXPECTED_SPIFFE && verify.code === 0 && notAfter !== '',
    detail: `${spiffeId}, expires ${notAfter}; openssl verify: ${verify.code === 0 ? 'OK' : verify.stderr.trim()}`,
    observed: { spiffeId, notAfter, opensslVerify: verify.code },
  };
}

/** The VM's Node as flanneld would have written it: podCIDR, and the four annotations byte for byte. */
async function checkNode(topology: Topology): Promise<Check> {
  const node = topology.kube === undefined ? undefined : await getNode(topology.kube.admin, SEED_VM.name);
  const mac = /link\/ether ([0-9a-f:]+)/.exec(await topology.vm.must('ip', ['link', 'show', 'flannel.1']))?.[1] ?? '';
  const a = node?.metadata.annotations ?? {};
  const P = 'flannel.alpha.coreos.com';
  const expected: Record<string, string> = {
    [`${P}/backend-data`]: `{"VNI":1,"VtepMAC":"${mac}"}`,
    [`${P}/backend-type`]: 'vxlan',
    [`${P}/kube-subnet-manager`]: 'true',
    [`${P}/public-ip`]: SEED_VM.ip,
  };
  const podCIDR = (node?.spec as { podCIDR?: string } | undefined)?.podCIDR ?? '';
  const same = Object.entries(expected).every(([k, v]) => a[k] === v);
  return {
    name: 'Node registered',
    ok: node !== undefined && podCIDR === SEED_VM.subnet && same,
    detail: node === undefined ? 'no Node' : `Node ${SEED_VM.name}, podCIDR ${podCIDR}, flannel annotations ${same ? 'as flanneld writes them' : 'DIFFER'} (backend-data ${a[`${P}/backend-data`] ?? 'missing'})`,
    observed: { podCIDR, annotations: Object.fromEntries(Object.entries(a).filter(([k]) => k.startsWith(P))), expected },
  };
}

async function checkOverlay(agent: AgentHandle, topology: Topology): Promise<Check> {
  const routes = await waitFor('three peer routes on the VM', async () => {
    const out = await topology.vm.must('ip', ['-j', 'route', 'show', 'dev', 'flannel.1']);
    const list = (JSON.parse(out) as { dst: string; gateway?: string }[]).filter((r) => r.gateway !== undefined);
    return list.length >= SEED_NODES.length ? list : undefined;
  }, 10_000).catch(() => [] as { dst: string }[]);
  const overlay = (await statusJson(agent)).controllers.overlay ?? {};
  const subnets = routes.map((r) => r.dst).sort();
  return {
    name: 'overlay peers programmed',
    ok: subnets.join(',') === SEED_NODES.map((n) => n.subnet).sort().join(','),
    detail: `flannel.1 routes to ${subnets.join(', ')} (status: ${JSON.stringify(overlay.peers ?? overlay.programmed ?? '?')})`,
    observed: { subnets },
  };
}

async function ping(ns: { run: Topology['vm']['run'] }, address: string): Promise<boolean> {
  // The first packet may wait for ARP on the far bridge: allow a few tries.
  for (let i = 0; i < 3; i += 1) {
    if ((await ns.run('ping', ['-c', '1', '-W', '2', address])).code === 0) return true;
  }
  return false;
}

async function checkVmToPods(topology: Topology): Promise<Check> {
  const results: Record<string, boolean> = {};
  for (const node of topology.nodes) results[node.podIP] = await ping(topology.vm, node.podIP);
  const ok = Object.values(results).every(Boolean);
  return { name: 'VM → pod ping', ok, detail: Object.entries(results).map(([ip, r]) => `${ip} ${r ? 'ok' : 'FAILED'}`).join(', '), observed: results };
}

async function checkPodsToVm(topology: Topology): Promise<Check> {
  const vtep = SEED_VM.subnet.split('/')[0] ?? '';
  const results: Record<string, boolean> = {};
  for (const node of topology.nodes) results[node.podIP] = await ping(node.pod, vtep);
  const ok = Object.values(results).every(Boolean);
  return { name: 'pod → VM ping', ok, detail: `to the VM's VTEP ${vtep} from ${Object.entries(results).map(([ip, r]) => `${ip} ${r ? 'ok' : 'FAILED'}`).join(', ')}`, observed: results };
}

async function checkDns(topology: Topology): Promise<Check> {
  const answers: Record<string, string> = {};
  for (const name of Object.keys(EXPECTED_NAMES)) {
    const result = await topology.vm.run('dig', ['+short', '+time=2', '+tries=2', '@127.0.0.1', name, 'A']);
    answers[name] = result.stdout.trim().split('\n')[0] ?? '';
  }
  const ok = Object.entries(EXPECTED_NAMES).every(([name, ip]) => answers[name] === ip);
  return { name: 'names resolved', ok, detail: Object.entries(answers).map(([n, a]) => `${n} → ${a === '' ? 'NO ANSWER' : a}`).join(', '), observed: answers };
}

async function checkCapture(topology: Topology): Promise<Check> {
  const save = await topology.vm.must('iptables-save', ['-t', 'nat']);
  const rules = save.split('\n').filter((l) => l.startsWith('-A ') && l.includes('ISTIO'));
  const chains = [...new Set(save.split('\n').filter((l) => l.startsWith(':ISTIO')).map((l) => l.slice(1).split(' ')[0]))];
  const ok = chains.includes('ISTIO_OUTPUT') && chains.includes('ISTIO_INBOUND') && rules.some((r) => r.includes('10.233.0.0/16'));
  return { name: 'capture rules installed', ok, detail: `${rules.length} nat rules in ${chains.join(', ')}`, observed: { chains, rules: rules.length } };
}

async function statusCli(topology: Topology): Promise<{ check: Check; text: string }> {
  const result = await topology.vm.run(cliArgv()[0] ?? 'node', [...cliArgv('status', '--addr', '127.0.0.1:15030').slice(1)]);
  return {
    check: { name: 'mesh-node-agent status', ok: result.code === 0, detail: `exit ${result.code} (0 = ready)`, observed: { code: result.code } },
    text: result.stdout + result.stderr,
  };
}
