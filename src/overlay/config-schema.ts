/**
 * The `overlay:` section: its schema (each key documented; docs/config.md is generated from it)
 * and built-in defaults, composed in config/schema.ts; its cross-field checks are in
 * config-checks.ts, those of `overlay.etcd` in registry/etcd-config.ts, those of
 * `overlay.kubernetes` in registry/kube/config.ts. Behaviour: docs/overlay.md.
 */
import { z } from 'zod';
import { cidr, duration, ip, key, mac, port } from '../config/schema-types.js';
import { etcdDefaults, etcdSchema } from '../registry/etcd-config.js';
import { overlayKubernetesDefaults, overlayKubernetesSchema } from '../registry/kube/config.js';

export const peerSchema = z.strictObject({
  subnet: key(cidr, { description: "The peer's flannel subnet (IPv4); its network address is the peer's VTEP address.", example: '10.234.0.0/24' }),
  publicIP: key(ip, { description: "The peer's underlay address VXLAN packets are sent to.", example: '192.168.0.60' }),
  vtepMAC: key(mac, { description: "The MAC of the peer's VXLAN device (`flannel.1`).", example: '5a:09:44:c7:a3:fb' }),
});

export const overlaySchema = z.strictObject({
  enabled: key(z.boolean(), { description: 'Run the overlay controller: a flannel-compatible VXLAN device and a route, neighbour and FDB entry per peer.', example: true }),
  vni: key(z.number().int().min(0).max(16_777_215), { description: "The VXLAN ID; must match the cluster's flannel `Backend.VNI`.", example: 1 }),
  port: key(port, { description: 'The VXLAN UDP destination port (flannel and kernel default 8472; Windows nodes need 4789); must match the cluster\'s flannel `Backend.Port`.', example: 4789 }),
  device: key(z.string().max(15, { message: 'interface names are at most 15 characters' }), { description: 'The VXLAN device name; empty: `flannel.<vni>`.', example: 'flannel.1' }),
  underlay: z.strictObject({
    interface: key(z.string(), { description: 'The NIC VXLAN packets leave by; empty: the interface of the default route.', example: 'eth0' }),
    address: key(z.union([z.literal(''), ip]), { description: 'The underlay address (published as the lease\'s `PublicIP`); empty: the first IPv4 address of the underlay interface.', example: '192.168.0.61', type: 'IP address, or empty' }),
  }),
  network: key(z.union([z.literal(''), cidr]), {
    description: "flannel's `Network`. When set, subnets outside it are errors; with etcd it must equal `Network` in `<prefix>/config`.",
    example: '10.234.0.0/16',
    type: 'CIDR, or empty',
  }),
  subnet: key(z.union([z.literal(''), cidr]), {
    description: "This VM's subnet; its network address goes on the device as the VTEP address. Required without etcd (or with `etcd.register: false`); with etcd, empty means acquire one from the registry.",
    example: '10.234.3.0/24',
    type: 'CIDR, or empty',
  }),
  mtu: key(z.number().int().min(0).max(65535), { description: 'The device MTU; `0`: the underlay MTU − 50.', example: 1450 }),
  peers: key(z.array(peerSchema), {
    description: 'Static peers (the seed\'s table), each `{ subnet, publicIP, vtepMAC }`; checked through the same gate as registry peers.',
    example: [{ subnet: '10.234.0.0/24', publicIP: '192.168.0.60', vtepMAC: '5a:09:44:c7:a3:fb' }],
  }),
  etcd: etcdSchema,
  kubernetes: overlayKubernetesSchema,
  resync: key(duration, { description: 'Period of the full resync (kernel dump, diff, repair).', example: '1m' }),
});

export function overlayDefaults(): z.input<typeof overlaySchema> {
  return {
    enabled: false,
    vni: 1,
    port: 8472,
    device: '',
    underlay: { interface: '', address: '' },
    network: '',
    subnet: '',
    mtu: 0,
    peers: [],
    etcd: etcdDefaults(),
    kubernetes: overlayKubernetesDefaults(),
    resync: '30s',
  };
}
