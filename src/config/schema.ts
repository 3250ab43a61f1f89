/**
 * The config schema (DESIGN.md "Config"). It validates the merged raw document (defaults <
 * Istio env files < YAML), so every key is present here; defaults live in defaults.ts.
 * Durations are turned into milliseconds; everything else keeps the shape users write.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { checkOverlay } from './checks-overlay.js';
import { checkRegistry } from './checks-registry.js';
import { kubernetesSchema } from '../kube/config-schema.js';
import { checkServiceEntriesKube, serviceEntriesKubeShape } from '../dns/service-entries-kube-config.js';
import { checkOverlayKubernetes, overlayKubernetesSchema } from '../registry/kube/config.js';
import { isAccountId, isHostName, isIp, isLoopback, isMac, parseCidr, parseHostPort, parseIpPort } from './net-types.js';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration; write e.g. 30s, 15m, 24h` });
    return z.NEVER;
  }
  return ms;
});

const port = z.number().int().min(1).max(65535);
const ip = z.string().refine(isIp, { message: 'not an IP address' });
const cidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  message: 'not a CIDR; write e.g. 10.234.0.0/16',
});
const hostPort = z.string().refine(
  (v) => {
    const hp = parseHostPort(v);
    return hp !== undefined && (isIp(hp.host) || isHostName(hp.host));
  },
  { message: 'not HOST:PORT; write e.g. 127.0.0.1:15030 or [::1]:53' },
);
// Listener and server addresses end up in capture rules and socket calls: addresses, never names.
const listenAddress = z.string().refine((v) => parseIpPort(v) !== undefined, {
  message: 'not IP:PORT; write e.g. 127.0.0.1:53 or [::1]:53 (an address: it is written into the capture rules)',
});
const dnsServer = z.string().refine((v) => parseIpPort(v, 53) !== undefined, {
  message: 'not an address; write e.g. 10.96.0.10 or 10.96.0.10:5353',
});
const mac = z.string().refine(isMac, { message: 'not a MAC address; write e.g. 5a:09:44:c7:a3:fb' });
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
const domainName = z.string().min(1).refine((v) => /^[A-Za-z0-9*_.-]+$/.test(v) && !v.includes('..'), {
  message: 'not a domain name',
});

export const identitySchema = z.strictObject({
  enabled: z.boolean(),
  ca: z.strictObject({
    protocol: z.enum(['istiod', 'citadel']),
    address: hostPort,
    serverName: z.string(),
    rootCert: z.string().min(1),
    tokenFile: z.string(),
    clusterId: z.string(),
  }),
  spiffe: z.strictObject({
    trustDomain: domainName,
    namespace: z.string().min(1),
    serviceAccount: z.string().min(1),
  }),
  certDir: z.string().min(1),
  owner: z.string(),
  key: z.strictObject({ type: z.literal('RSA'), bits: z.number().int().min(2048).max(8192) }),
  ttl: duration.refine((ms) => ms >= 1000, { message: 'must be at least 1s (the CA is asked for this lifetime); write e.g. 24h' }),
  graceRatio: z.number().gt(0).lt(1),
  graceJitter: z.number().min(0).max(0.5),
  onRotate: z.string(),
});

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
  etcd: z.strictObject({
    endpoints: z.array(z.string().url({ message: 'not a URL; write e.g. http://10.0.0.1:2379' })),
    prefix: z.string().startsWith('/', { message: 'must start with /' }),
    tls: z.strictObject({ ca: z.string(), cert: z.string(), key: z.string() }),
    register: z.boolean(),
  }),
  kubernetes: overlayKubernetesSchema,
  resync: duration,
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

export const dnsSchema = z.strictObject({
  enabled: z.boolean(),
  listen: z.array(listenAddress).min(1),
  allowRemote: z.boolean(),
  upstreams: z.array(dnsServer),
  hosts: z.array(z.strictObject({ name: domainName, addresses: z.array(ip).min(1) })),
  forward: z.array(z.strictObject({ domain: domainName, servers: z.array(dnsServer).min(1) })),
  serviceEntries: z.strictObject({ paths: z.array(z.string()), autoAllocate: cidr, ...serviceEntriesKubeShape }),
  ttl: z.number().int().min(0).max(86_400),
  cache: z.strictObject({
    size: z.number().int().min(0),
    maxTTL: z.number().int().min(0),
    negativeTTL: z.number().int().min(0),
  }),
});

const baseSchema = z.strictObject({
  stateDir: z.string().min(1),
  log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) }),
  istio: z.strictObject({ clusterEnv: z.string(), sidecarEnv: z.string() }),
  status: z.strictObject({ listen: hostPort, allowRemote: z.boolean() }),
  kubernetes: kubernetesSchema,
  identity: identitySchema,
  overlay: overlaySchema,
  capture: captureSchema,
  dns: dnsSchema,
});

export const configSchema = baseSchema.superRefine((cfg, ctx) => {
  // A status or DNS listener on a non-loopback address exposes the agent (an open resolver is an
  // amplification weapon): only with an explicit opt-in.
  const status = parseHostPort(cfg.status.listen);
  if (status !== undefined && !isLoopback(status.host) && !cfg.status.allowRemote) {
    ctx.addIssue({ code: 'custom', path: ['status', 'listen'], message: 'not a loopback address; set status.allowRemote: true to expose the status endpoint' });
  }
  cfg.dns.listen.forEach((listen, index) => {
    const hp = parseHostPort(listen);
    if (hp !== undefined && !isLoopback(hp.host) && !cfg.dns.allowRemote) {
      ctx.addIssue({ code: 'custom', path: ['dns', 'listen', index], message: 'not a loopback address; set dns.allowRemote: true to serve other hosts' });
    }
  });
  for (const issue of checkOverlay(cfg.overlay)) ctx.addIssue({ code: 'custom', ...issue });
  for (const issue of checkRegistry(cfg.overlay)) ctx.addIssue({ code: 'custom', ...issue });
  for (const issue of [...checkOverlayKubernetes(cfg), ...checkServiceEntriesKube(cfg)]) ctx.addIssue({ code: 'custom', ...issue });
});

export type Config = z.output<typeof configSchema>;
export type IdentityConfig = Config['identity'];
export type OverlayConfig = Config['overlay'];
export type PeerConfig = z.output<typeof peerSchema>;
export type CaptureConfig = Config['capture'];
export type DnsConfig = Config['dns'];
export type ControllerName = 'identity' | 'overlay' | 'capture' | 'dns';
export const CONTROLLER_NAMES: readonly ControllerName[] = ['identity', 'overlay', 'capture', 'dns'];
