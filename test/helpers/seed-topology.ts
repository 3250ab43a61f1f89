/**
 * The seeds' mesh-expansion scenario in network namespaces: three Kubernetes nodes on a flannel
 * VXLAN network (configured with the seed's own ip/bridge commands), a pod behind each node's
 * cni0 bridge, a "load balancer" host carrying kube-dns (dnsmasq) and flannel's etcd, and the
 * VM host where the agent runs. All addresses live inside namespaces this helper creates.
 */
import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './agent-process.js';
import { startKubeApiServer, type KubeApiServer } from './kube-apiserver.js';
import { NODES, applyServiceEntryCrd, serviceAccountToken } from './kube-fixtures.js';
import { createNetConf, flannelNodeManifest, vmRegistryRules } from './kube-flannel.js';
import { startEtcd, type EtcdServer } from './registry-etcd.js';
import { flannelLeaseJson, leaseKey } from './registry-flannel.js';
import { waitFor } from './exec.js';
import { connect, createNetns, type Netns } from './netns.js';

export interface SeedNode {
  name: string;
  ip: string;
  subnet: string;
  vtepMAC: string;
  podIP: string;
}

/** Addresses, subnets and MACs exactly as in seed 000. */
export const SEED_NODES: readonly SeedNode[] = [
  { name: 'kube01', ip: '192.168.0.71', subnet: '10.234.2.0/24', vtepMAC: 'f6:cb:f7:55:bc:cd', podIP: '10.234.2.6' },
  { name: 'kube02', ip: '192.168.0.72', subnet: '10.234.0.0/24', vtepMAC: '5a:09:44:c7:a3:fb', podIP: '10.234.0.62' },
  { name: 'kube03', ip: '192.168.0.73', subnet: '10.234.1.0/24', vtepMAC: '7a:b4:48:5f:69:56', podIP: '10.234.1.30' },
];
export const SEED_VM = { name: 'deb-nginx01', ip: '192.168.0.81', subnet: '10.234.3.0/24' };
export const SEED_LB_IP = '192.168.0.62';
export const SEED_NETWORK = '10.234.0.0/16';
export const ETCD_PREFIX = '/coreos.com/network';
export const ETCD_ENDPOINT = `http://${SEED_LB_IP}:2379`;
export const KUBE_SERVER = `https://${SEED_LB_IP}:6443`;

/** kube-dns's records (dnsmasq --host-record), the answers the VM must get for cluster names. */
export const KUBE_DNS_RECORDS: Readonly<Record<string, string>> = {
  'nginx-v1.default.svc.cluster.local': '10.233.21.183',
  'httpbin.default.svc.cluster.local': '10.233.40.12',
  'istio-pilot.istio-system.svc.cluster.local': '10.233.11.5',
  'istiod.istio-system.svc.cluster.local': '10.233.11.6',
};

export interface TopologyNode extends SeedNode {
  ns: Netns;
  pod: Netns;
}

export interface Topology {
  lan: Netns;
  lb: Netns;
  vm: Netns;
  nodes: TopologyNode[];
  etcd?: EtcdServer;
  /** With `kubernetes`: the API server on the load balancer (admin client, CA, tool directory). */
  kube?: KubeApiServer;
  dir: string;
  /** Programs the seed's reverse entries (node → VM) by hand, for a run without the registry. */
  programReverse(vmVtepMAC: string): Promise<void>;
  destroy(): Promise<void>;
}

export interface TopologyOptions {
  /** Start etcd with flannel's config and the nodes' leases, and a flanneld stand-in per node. */
  registry: boolean;
  /** Start dnsmasq as kube-dns on the load balancer. */
  kubeDns: boolean;
  /**
   * flannel with --kube-subnet-mgr instead: a kube-apiserver on the load balancer (6443) holding the
   * nodes' Nodes, kube-flannel-cfg and the ServiceEntry CRD, a stand-in flanneld per node following
   * Nodes, and for the VM a ServiceAccount token and the CA in `dir` (kube-token, kube-ca.crt).
   */
  kubernetes?: boolean;
  onStep?: (message: string) => void;
}

function network(subnet: string): string {
  return subnet.split('/')[0] ?? '';
}

function gateway(subnet: string): string {
  const parts = network(subnet).split('.');
  parts[3] = '1';
  return parts.join('.');
}

export async function buildSeedTopology(options: TopologyOptions): Promise<Topology> {
  const step = options.onStep ?? (() => undefined);
  const created: Netns[] = [];
  const children: ChildProcess[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'mna-topo-'));
  let etcd: EtcdServer | undefined;
  let kube: KubeApiServer | undefined;
  const make = async (tag: string): Promise<Netns> => {
    const ns = await createNetns(tag);
    created.push(ns);
    return ns;
  };
  const destroy = async (): Promise<void> => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await etcd?.cleanup();
    await kube?.cleanup();
    for (const ns of created.reverse()) await ns.destroy();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    step('underlay: a LAN bridge and five hosts (3 nodes, load balancer, VM)');
    const lan = await make('lan');
    await lan.ip('link', 'add', 'br0', 'type', 'bridge');
    await lan.ip('link', 'set', 'br0', 'up');
    const attach = async (host: Netns, address: string): Promise<void> => {
      const ends = await connect({ ns: host, address: `${address}/24`, ifname: 'eth0' }, { ns: lan });
      await lan.ip('link', 'set', ends.b, 'master', 'br0');
    };
    const lb = await make('lb');
    await attach(lb, SEED_LB_IP);
    const vm = await make('vm');
    await attach(vm, SEED_VM.ip);

    const nodes: TopologyNode[] = [];
    for (const node of SEED_NODES) {
      step(`${node.name}: flannel.1 (${node.vtepMAC}), cni0 ${gateway(node.subnet)}/24, pod ${node.podIP}`);
      const ns = await make(node.name);
      await attach(ns, node.ip);
      await ns.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      // The seed's device commands, with flannel's persisted MAC.
      await ns.sh(
        [
          `ip link add flannel.1 address ${node.vtepMAC} type vxlan id 1 local ${node.ip} dev eth0 dstport 8472 nolearning`,
          `ip address add ${network(node.subnet)}/32 dev flannel.1`,
          'ip link set flannel.1 up',
          'ip link add cni0 type bridge',
          `ip address add ${gateway(node.subnet)}/24 dev cni0`,
          'ip link set cni0 up',
        ].join('\n'),
      );
      const pod = await make(`pod${node.name.slice(-2)}`);
      const ends = await connect({ ns: pod, address: `${node.podIP}/24`, ifname: 'eth0' }, { ns });
      await ns.ip('link', 'set', ends.b, 'master', 'cni0');
      await pod.ip('route', 'add', 'default', 'via', gateway(node.subnet));
      nodes.push({ ...node, ns, pod });
    }
    // Node-to-node entries as each node's flanneld would hold them (the seed's per-peer commands).
    for (const node of nodes) {
      const script = nodes
        .filter((other) => other !== node)
        .flatMap((other) => [
          `ip route add unicast ${other.subnet} via ${network(other.subnet)} dev flannel.1 proto boot scope global onlink`,
          `ip neigh add ${network(other.subnet)} dev flannel.1 lladdr ${other.vtepMAC}`,
          `bridge fdb add ${other.vtepMAC} dev flannel.1 dst ${other.ip}`,
        ])
        .join('\n');
      await node.ns.sh(script);
    }

    if (options.kubeDns) {
      step(`kube-dns: dnsmasq on ${SEED_LB_IP}:53 serving svc.cluster.local`);
      const records = Object.entries(KUBE_DNS_RECORDS).map(([name, ip]) => `--host-record=${name},${ip}`);
      const dnsmasq = lb.spawn('dnsmasq', [
        '--keep-in-foreground', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--user=root',
        `--pid-file=${join(dir, 'kube-dns.pid')}`, `--listen-address=${SEED_LB_IP}`, '--bind-interfaces', '--port=53',
        '--local=/cluster.local/', ...records,
      ]);
      children.push(dnsmasq);
      await waitFor('kube-dns answering', async () => (await lb.run('dig', ['+short', '+time=1', '+tries=1', `@${SEED_LB_IP}`, 'nginx-v1.default.svc.cluster.local'])).stdout.includes('10.233.'), 10_000, 100);
    }

    if (options.registry) {
      step(`etcd: flannel's registry on ${ETCD_ENDPOINT} with the nodes' leases`);
      etcd = await startEtcd({ host: SEED_LB_IP, clientPort: 2379, ns: lb });
      const put = (key: string, value: string): Promise<string> => lb.must('etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', key, value]);
      await put(`${ETCD_PREFIX}/config`, JSON.stringify({ Network: SEED_NETWORK, SubnetLen: 24, Backend: { Type: 'vxlan', VNI: 1, Port: 8472 } }));
      for (const node of nodes) await put(leaseKey(node.subnet, ETCD_PREFIX), flannelLeaseJson(node.ip, node.vtepMAC));
      for (const node of nodes) {
        const sim = node.ns.spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/helpers/flanneld-sim.ts'), ETCD_ENDPOINT, ETCD_PREFIX, node.subnet], { cwd: REPO_ROOT });
        children.push(sim);
        await new Promise<void>((resolve, reject) => {
          let out = '';
          sim.stdout?.on('data', (c: Buffer) => {
            out += c.toString();
            if (out.includes('following leases')) resolve();
          });
          sim.on('exit', (code) => reject(new Error(`flanneld stand-in on ${node.name} exited ${code}: ${out}`)));
        });
      }
    }

    if (options.kubernetes === true) {
      step(`kube-apiserver on ${KUBE_SERVER}: the nodes' Nodes as flanneld annotates them, kube-flannel-cfg, the ServiceEntry CRD`);
      kube = await startKubeApiServer('tkcd', { ns: lb, listen: `${SEED_LB_IP}:6443` });
      await createNetConf(kube.admin, 'kube-flannel', JSON.stringify({ Network: SEED_NETWORK, Backend: { Type: 'vxlan' } }));
      for (const node of nodes) await kube.admin.create(NODES, flannelNodeManifest(node.name, node.subnet, node.ip, node.vtepMAC));
      await applyServiceEntryCrd(kube.admin, kube.toolDir);
      // The VM's identity: a ServiceAccount with the rules docs/kubernetes.md gives one VM.
      const token = await serviceAccountToken(kube.admin, SEED_VM.name, [
        ...vmRegistryRules(SEED_VM.name),
        { apiGroups: ['networking.istio.io'], resources: ['serviceentries'], verbs: ['list', 'watch'] },
      ]);
      await writeFile(join(dir, 'kube-token'), token, { mode: 0o600 });
      await copyFile(kube.env.KUBE_CA_FILE, join(dir, 'kube-ca.crt'));
      for (const node of nodes) {
        const sim = node.ns.spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/helpers/flanneld-kube-sim.ts'), KUBE_SERVER, kube.env.KUBE_CA_FILE, kube.env.ADMIN_TOKEN, node.name], { cwd: REPO_ROOT });
        children.push(sim);
        await new Promise<void>((resolve, reject) => {
          let out = '';
          sim.stdout?.on('data', (c: Buffer) => {
            out += c.toString();
            if (out.includes('following nodes')) resolve();
          });
          sim.on('exit', (code) => reject(new Error(`flanneld stand-in on ${node.name} exited ${code}: ${out}`)));
        });
      }
    }

    return {
      lan,
      lb,
      vm,
      nodes,
      ...(etcd === undefined ? {} : { etcd }),
      ...(kube === undefined ? {} : { kube }),
      dir,
      async programReverse(vmVtepMAC: string) {
        for (const node of nodes) {
          await node.ns.sh(
            [
              `ip route replace ${SEED_VM.subnet} via ${network(SEED_VM.subnet)} dev flannel.1 proto boot scope global onlink`,
              `ip neigh replace ${network(SEED_VM.subnet)} dev flannel.1 lladdr ${vmVtepMAC}`,
              `bridge fdb replace ${vmVtepMAC} dev flannel.1 dst ${SEED_VM.ip}`,
            ].join('\n'),
          );
        }
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
