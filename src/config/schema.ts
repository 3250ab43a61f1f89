/**
 * The config document: each section's schema lives beside its controller (identity/, overlay/,
 * capture/, dns/, status/ config-schema.ts); this file composes them with the agent-wide keys and
 * runs every section's cross-field checks. It validates the merged raw document (defaults < Istio
 * env files < YAML), so every key is present; defaults.ts composes the sections' defaults.
 */
import { z } from 'zod';
import { key } from './schema-types.js';
import { captureSchema } from '../capture/config-schema.js';
import { dnsSchema, checkDns } from '../dns/config-schema.js';
import { identitySchema } from '../identity/config-schema.js';
import { checkOverlay } from '../overlay/config-checks.js';
import { overlaySchema } from '../overlay/config-schema.js';
import { checkServiceEntriesKube } from '../dns/service-entries-kube-config.js';
import { kubernetesSchema } from '../kube/config-schema.js';
import { checkRegistry } from '../registry/etcd-config.js';
import { checkOverlayKubernetes } from '../registry/kube/config.js';
import { checkStatus, statusSchema } from '../status/config-schema.js';

const baseSchema = z.strictObject({
  stateDir: key(z.string().min(1), {
    description: "The agent's own state (VTEP MAC, etcd lease, last known peers, the saved resolv.conf); kept across restarts, removed by `apt-get purge`.",
    example: '/var/lib/mesh-node-agent',
  }),
  log: z.strictObject({
    level: key(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), { description: 'The least severe level logged (pino JSON lines on stdout).', example: 'debug' }),
  }),
  istio: z.strictObject({
    clusterEnv: key(z.string(), { description: "Istio's cluster.env, read for the variables listed under each key (empty: not read).", example: '/var/lib/istio/envoy/cluster.env' }),
    sidecarEnv: key(z.string(), { description: "Istio's sidecar.env, read before cluster.env (whose values win); empty: not read.", example: '/var/lib/istio/envoy/sidecar.env' }),
  }),
  status: statusSchema,
  kubernetes: kubernetesSchema,
  identity: identitySchema,
  overlay: overlaySchema,
  capture: captureSchema,
  dns: dnsSchema,
});

export const configSchema = baseSchema.superRefine((cfg, ctx) => {
  const issues = [
    ...checkStatus(cfg.status),
    ...checkDns(cfg.dns),
    ...checkOverlay(cfg.overlay),
    ...checkRegistry(cfg.overlay),
    ...checkOverlayKubernetes(cfg),
    ...checkServiceEntriesKube(cfg),
  ];
  for (const issue of issues) ctx.addIssue({ code: 'custom', ...issue });
});

export type Config = z.output<typeof configSchema>;
export type IdentityConfig = Config['identity'];
export type OverlayConfig = Config['overlay'];
export type PeerConfig = OverlayConfig['peers'][number];
export type CaptureConfig = Config['capture'];
export type DnsConfig = Config['dns'];
export type ControllerName = 'identity' | 'overlay' | 'capture' | 'dns';
export const CONTROLLER_NAMES: readonly ControllerName[] = ['identity', 'overlay', 'capture', 'dns'];
