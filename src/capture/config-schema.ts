/** The `capture:` section: its schema and built-in defaults (composed in config/schema.ts). */
import { z } from 'zod';
import { cidr, duration, port } from '../config/schema-types.js';
import { isAccountId } from '../host/account-id.js';
import { parseCidr } from '../net/cidr.js';

const cidrOrStar = z.string().refine((v) => v === '*' || parseCidr(v) !== undefined, {
  message: 'not a CIDR or "*"',
});
const inboundPorts = z.string().refine(
  (v) => v.trim() === '' || v.trim() === '*' || v.split(',').every((p) => /^[ \t]*\d{1,5}[ \t]*$/.test(p) && Number(p) >= 1 && Number(p) <= 65535),
  { message: 'write "*" or a comma-separated list of ports (1-65535)' },
);
/** A user or group for the capture bypass: a name or a number, never root (every root process would bypass). */
const account = (what: 'user' | 'group') =>
  z
    .string()
    .refine((v) => /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(v.trim()) || (/^\d{1,10}$/.test(v.trim()) && isAccountId(Number(v.trim()))), {
      message: `not a ${what} name or number`,
    })
    .refine((v) => v.trim() !== 'root' && !/^0+$/.test(v.trim()), {
      message: `must not be root: every root process would bypass capture; name the ${what === 'user' ? "proxy's own user (istio-proxy)" : "agent's own group"}`,
    });

export const captureSchema = z.strictObject({
  enabled: z.boolean(),
  inboundPorts,
  localExcludePorts: z.array(port),
  serviceCIDRs: z.array(cidrOrStar),
  serviceExcludeCIDRs: z.array(cidr),
  proxyUser: account('user'),
  /** The group whose members' sockets bypass capture: the agent joins it at start. */
  agentGroup: account('group'),
  outboundPort: port,
  inboundPort: port,
  dns: z.boolean(),
  cleanupOnStop: z.boolean(),
  /** How often installed rules are verified and drift repaired. */
  resync: duration,
});

export function captureDefaults(): z.input<typeof captureSchema> {
  return {
    enabled: false,
    inboundPorts: '',
    localExcludePorts: [22],
    serviceCIDRs: [],
    serviceExcludeCIDRs: [],
    proxyUser: 'istio-proxy',
    agentGroup: 'mesh-node-agent',
    outboundPort: 15001,
    inboundPort: 15006,
    dns: false,
    cleanupOnStop: true,
    resync: '30s',
  };
}
