/** The `capture:` section: its schema and built-in defaults (composed in config/schema.ts). */
import { z } from 'zod';
import { cidr, duration, key, port } from '../config/schema-types.js';
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
  enabled: key(z.boolean(), { description: "Run the capture controller: Istio's iptables redirect (`ISTIO_*` chains in the nat table), verified and repaired.", example: true }),
  inboundPorts: key(inboundPorts, {
    description: 'Inbound ports redirected to `inboundPort`: `*` (every port), a comma-separated list, or empty (no inbound capture). Port 22 and the status port are never captured.',
    example: '8080,3306',
    type: '`*`, a comma-separated list of ports, or empty',
  }),
  localExcludePorts: key(z.array(port), { description: 'Inbound ports left alone when `inboundPorts` is `*`.', example: [22, 15090] }),
  serviceCIDRs: key(z.array(cidrOrStar), { description: 'Destinations whose outbound TCP is redirected to `outboundPort`; `*` is every destination.', example: ['10.96.0.0/12'], type: 'list of CIDRs or `*`' }),
  serviceExcludeCIDRs: key(z.array(cidr), { description: 'Destinations never redirected (checked before `serviceCIDRs`).', example: ['10.96.0.1/32'] }),
  proxyUser: key(account('user'), {
    description: "The proxy's user (a name or uid; never root): its uid and gid bypass capture, so Envoy's own traffic is not redirected back to it.",
    example: 'istio-proxy',
    type: 'user name or uid',
  }),
  agentGroup: key(account('group'), {
    description: "The group whose members' sockets bypass capture; the agent joins it at start, so its own CA, etcd and DNS traffic is not captured (docs/capture.md).",
    example: 'mesh-node-agent',
    type: 'group name or gid',
  }),
  outboundPort: key(port, { description: "Envoy's outbound listener, the target of outbound redirects.", example: 15001 }),
  inboundPort: key(port, { description: "Envoy's inbound listener, the target of inbound redirects.", example: 15006 }),
  dns: key(z.boolean(), { description: 'Redirect DNS queries sent to the nameservers of `${stateDir}/resolv.conf` (the copy the DNS controller saves) to `dns.listen`.', example: true }),
  cleanupOnStop: key(z.boolean(), { description: 'Remove the rules when the agent stops (and in `run --cleanup-only`).', example: false }),
  resync: key(duration, { description: 'How often the installed rules are verified against iptables-save and drift repaired.', example: '1m' }),
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
