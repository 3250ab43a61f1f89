/**
 * The `overlay:` section: its schema and built-in defaults (composed in config/schema.ts); its
 * cross-field checks are in config-checks.ts, those of `overlay.etcd` in registry/etcd-config.ts.
 */
import { z } from 'zod';
import { cidr, duration, ip, mac, port } from '../config/schema-types.js';
import { etcdDefaults, etcdSchema } from '../registry/etcd-config.js';

export const peerSchema = z.strictObject({ subnet: cidr, publicIP: ip, vtepMAC: mac });

export const overlaySchema = z.strictObject({
  enabled: z.boolean(),
  vni: z.number().int().min(0).max(16_777_215),
  port,
  device: z.string().max(15, { message: 'interface names are at most 15 characters' }),
  underlay: z.strictObject({ interface: z.string(), address: z.union([z.literal(''), ip]) }),
  network: z.union([z.literal(''), cidr]),
  subnet: z.union([z.literal(''), cidr]),
  mtu: z.number().int().min(0).max(65535),
  peers: z.array(peerSchema),
  etcd: etcdSchema,
  resync: duration,
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
    resync: '30s',
  };
}
