/**
 * The seed's topology in namespaces: a "VM" (agent side) and a Kubernetes "node" set up with
 * exactly the seed's commands, with a pod behind a bridge on the node. Shared by the overlay
 * integration tests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type Netns } from '../helpers/netns.js';

export const VM_IP = '192.168.0.81';
export const NODE_IP = '192.168.0.72';
/** The VM's VTEP MAC in the seed (the node's commands point at it). */
export const VM_MAC = 'fe:e0:e4:83:b0:09';
export const NODE_MAC = '5a:09:44:c7:a3:fb';
export const POD_IP = '10.234.0.62';
export const VM_VTEP = '10.234.3.0';

export function overlayConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    overlay: {
      enabled: true,
      network: '10.234.0.0/16',
      subnet: '10.234.3.0/24',
      underlay: { interface: 'ens33' },
      peers: [{ subnet: '10.234.0.0/24', publicIP: NODE_IP, vtepMAC: NODE_MAC }],
      resync: '30s',
      ...extra,
    },
  };
}

/** Pre-seeds the agent's stateDir with the VM MAC the node's commands expect. */
export async function seedStateDir(dir: string): Promise<void> {
  await mkdir(join(dir, 'state'), { recursive: true });
  await writeFile(join(dir, 'state', 'vtep-mac.flannel.1'), `${VM_MAC}\n`);
}

export async function buildTopology(vm: Netns, node: Netns, pod: Netns): Promise<void> {
  await connect({ ns: vm, ifname: 'ens33', address: `${VM_IP}/24` }, { ns: node, ifname: 'eth0', address: `${NODE_IP}/24` });
  // The node: flannel.1 as flannel made it, cni0 with one pod.
  await node.sh(`
sysctl -qw net.ipv4.ip_forward=1
ip link add flannel.1 address ${NODE_MAC} type vxlan id 1 local ${NODE_IP} dev eth0 dstport 8472 nolearning
ip address add 10.234.0.0/32 dev flannel.1
ip link set flannel.1 up
ip link add cni0 type bridge
ip address add 10.234.0.1/24 dev cni0
ip link set cni0 up
`);
  await connect({ ns: pod, ifname: 'eth0', address: `${POD_IP}/24` }, { ns: node, ifname: 'vethpod' });
  await node.sh('ip link set vethpod master cni0');
  await pod.sh('ip route add default via 10.234.0.1');
  // Exactly the seed's commands on kube01 (the way back to the VM).
  await node.sh(`
ip route add unicast 10.234.3.0/24 via 10.234.3.0 dev flannel.1 proto boot scope global onlink
ip neigh add 10.234.3.0 dev flannel.1 lladdr ${VM_MAC}
bridge fdb add ${VM_MAC} dev flannel.1 dst ${VM_IP}
`);
}

export async function pings(from: Netns, to: string): Promise<boolean> {
  const r = await from.run('ping', ['-c', '1', '-W', '1', to]);
  return r.code === 0;
}
