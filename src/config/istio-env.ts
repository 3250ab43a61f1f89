/**
 * Maps Istio's env-file variables onto config keys, so a VM prepared for istio-sidecar.deb works
 * unchanged. Pure: takes parsed entries, returns values with the file:line they came from.
 */
import type { ConfigIssue } from '../errors.js';
import type { EnvEntry } from './env-file.js';

export interface EnvSetting {
  path: string[];
  value: unknown;
  entry: EnvEntry;
}

/** A value that does not convert, with why (kept apart from any value a variable can hold). */
class Invalid {
  constructor(readonly message: string) {}
}

type Convert = (raw: string) => unknown;

const text: Convert = (raw) => raw;
const int: Convert = (raw) => (/^\d+$/.test(raw.trim()) ? Number(raw.trim()) : new Invalid('expected a whole number'));
const float: Convert = (raw) => (raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : new Invalid('expected a number'));
const bool: Convert = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no', ''].includes(v)) return false;
  return new Invalid('expected true or false');
};
const list: Convert = (raw) => raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
const intList: Convert = (raw) => {
  const items = list(raw) as string[];
  return items.every((s) => /^\d+$/.test(s)) ? items.map(Number) : new Invalid('expected a comma-separated list of ports');
};

/**
 * steersTrust: the variable decides where the agent connects or what it trusts, or which traffic
 * escapes capture. Such values are read only from an env file only root can write (env-files.ts);
 * the others only name this workload or tune its certificate, so the proxy, which may own
 * cluster.env (Istio's VM guide chowns it), can at worst break its own certificate with them.
 */
const DIRECT: Record<string, { path: string[]; convert: Convert; steersTrust: boolean }> = {
  CA_ADDR: { path: ['identity', 'ca', 'address'], convert: text, steersTrust: true },
  TRUST_DOMAIN: { path: ['identity', 'spiffe', 'trustDomain'], convert: text, steersTrust: false },
  POD_NAMESPACE: { path: ['identity', 'spiffe', 'namespace'], convert: text, steersTrust: false },
  SERVICE_ACCOUNT: { path: ['identity', 'spiffe', 'serviceAccount'], convert: text, steersTrust: false },
  ISTIO_META_CLUSTER_ID: { path: ['identity', 'ca', 'clusterId'], convert: text, steersTrust: false },
  SECRET_TTL: { path: ['identity', 'ttl'], convert: text, steersTrust: false },
  SECRET_GRACE_PERIOD_RATIO: { path: ['identity', 'graceRatio'], convert: float, steersTrust: false },
  ISTIO_INBOUND_PORTS: { path: ['capture', 'inboundPorts'], convert: text, steersTrust: true },
  ISTIO_LOCAL_EXCLUDE_PORTS: { path: ['capture', 'localExcludePorts'], convert: intList, steersTrust: true },
  ISTIO_SERVICE_CIDR: { path: ['capture', 'serviceCIDRs'], convert: list, steersTrust: true },
  ISTIO_SERVICE_EXCLUDE_CIDR: { path: ['capture', 'serviceExcludeCIDRs'], convert: list, steersTrust: true },
  ENVOY_PORT: { path: ['capture', 'outboundPort'], convert: int, steersTrust: true },
  INBOUND_CAPTURE_PORT: { path: ['capture', 'inboundPort'], convert: int, steersTrust: true },
  ISTIO_META_DNS_CAPTURE: { path: ['capture', 'dns'], convert: bool, steersTrust: true },
  PROXY_UID: { path: ['capture', 'proxyUser'], convert: text, steersTrust: true },
};

/** Derive the CA address when CA_ADDR is unset. */
const DERIVED_CA_KEYS = ['ISTIO_PILOT_PORT', 'ISTIO_SYSTEM_NAMESPACE'];

/** The env variables this agent reads, for help text and check-config. */
export const MAPPED_ENV_KEYS = [...Object.keys(DIRECT), ...DERIVED_CA_KEYS];

/** Each variable with the config key it sets (the derived CA address included), for docs/config.md. */
export const ENV_SOURCES: readonly { variable: string; key: string; steersTrust: boolean }[] = [
  ...Object.entries(DIRECT).map(([variable, spec]) => ({ variable, key: spec.path.join('.'), steersTrust: spec.steersTrust })),
  ...DERIVED_CA_KEYS.map((variable) => ({ variable, key: 'identity.ca.address', steersTrust: true })),
];

/** Variables read only from env files only root can write. */
export const TRUST_STEERING_KEYS: ReadonlySet<string> = new Set([
  ...Object.entries(DIRECT).filter(([, spec]) => spec.steersTrust).map(([key]) => key),
  ...DERIVED_CA_KEYS,
]);

/** `env` holds later files' entries over earlier ones (istio-start.sh sources sidecar.env, then cluster.env). */
export function mapIstioEnv(env: ReadonlyMap<string, EnvEntry>): { settings: EnvSetting[]; issues: ConfigIssue[] } {
  const settings: EnvSetting[] = [];
  const issues: ConfigIssue[] = [];
  for (const [key, spec] of Object.entries(DIRECT)) {
    const entry = env.get(key);
    if (entry === undefined) continue;
    const value = spec.convert(entry.value);
    if (value instanceof Invalid) {
      issues.push({ file: entry.file, line: entry.line, col: 1, key, message: `${value.message}, got "${entry.value}"` });
    } else {
      settings.push({ path: spec.path, value, entry });
    }
  }
  // istio-start.sh: CA_ADDR=${CA_ADDR:-istiod.${ISTIO_SYSTEM_NAMESPACE}.svc:${ISTIO_PILOT_PORT}}
  const pilotPort = env.get('ISTIO_PILOT_PORT');
  const systemNs = env.get('ISTIO_SYSTEM_NAMESPACE');
  const firstDerived = pilotPort ?? systemNs;
  if (!env.has('CA_ADDR') && firstDerived !== undefined) {
    const portValue = pilotPort?.value.trim() ?? '15012';
    if (!/^\d+$/.test(portValue)) {
      issues.push({ file: firstDerived.file, line: pilotPort?.line ?? 1, col: 1, key: 'ISTIO_PILOT_PORT', message: `expected a port, got "${portValue}"` });
    } else {
      const ns = systemNs?.value.trim() || 'istio-system';
      settings.push({ path: ['identity', 'ca', 'address'], value: `istiod.${ns}.svc:${portValue}`, entry: firstDerived });
    }
  }
  return { settings, issues };
}
