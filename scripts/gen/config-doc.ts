/**
 * docs/config.md from the config schema: every key by its full dotted name with its type, default,
 * example and the Istio env-file variable it can come from. Descriptions and examples are declared
 * with the key (`key()` in src/config/schema-types.ts); a key without one fails the generator.
 */
import { stringify } from 'yaml';
import type { z } from 'zod';
import { defaultConfig } from '../../src/config/defaults.js';
import { ENV_SOURCES } from '../../src/config/istio-env.js';
import { configSchema } from '../../src/config/schema.js';
import { keyDocs, typeName, type KeyDoc } from '../../src/config/schema-types.js';
import { GENERATED_NOTE, type Generated } from './output.js';

interface Leaf {
  /** e.g. overlay.etcd.prefix, overlay.peers[].subnet */
  key: string;
  doc: KeyDoc;
  type: string;
  default: unknown;
}

/** The parts of zod's definitions this generator reads. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  values?: unknown[];
  entries?: Record<string, string>;
  checks?: { _zod: { def: { check: string; value?: unknown; inclusive?: boolean; minimum?: number; maximum?: number } } }[];
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { def: Def }).def;

const SECTIONS: readonly { title: string; keys: readonly string[]; about: string }[] = [
  { title: 'Agent', keys: ['stateDir', 'log', 'istio'], about: 'The daemon itself: where it keeps state, how much it logs, which Istio env files it reads.' },
  { title: 'status', keys: ['status'], about: 'The local HTTP endpoint (README "HTTP").' },
  { title: 'kubernetes', keys: ['kubernetes'], about: 'The one Kubernetes API connection, shared by `overlay.kubernetes` and `dns.serviceEntries.kubernetes` ([kubernetes.md](kubernetes.md)).' },
  { title: 'identity', keys: ['identity'], about: 'Workload certificates rotated against istiod or Citadel ([identity.md](identity.md)).' },
  { title: 'overlay', keys: ['overlay'], about: "flannel-compatible VXLAN ([overlay.md](overlay.md)); `overlay.etcd` is flannel's etcd registry ([registry.md](registry.md)), `overlay.kubernetes` flannel's kube subnet manager ([kubernetes.md](kubernetes.md))." },
  { title: 'capture', keys: ['capture'], about: "Istio's iptables redirect ([capture.md](capture.md))." },
  { title: 'dns', keys: ['dns'], about: 'The DNS proxy ([dns.md](dns.md)).' },
];

export function configDoc(): Generated {
  const shape = defOf(configSchema).shape ?? {};
  const covered = SECTIONS.flatMap((s) => s.keys);
  const missing = Object.keys(shape).filter((k) => !covered.includes(k));
  if (missing.length > 0) throw new Error(`scripts/gen/config-doc.ts: add the top-level key(s) ${missing.join(', ')} to SECTIONS`);
  const defaults = defaultConfig();
  const env = new Map<string, { variable: string; steersTrust: boolean }[]>();
  for (const source of ENV_SOURCES) env.set(source.key, [...(env.get(source.key) ?? []), source]);

  const sections = SECTIONS.map((section) => ({
    ...section,
    leaves: section.keys.flatMap((k) => {
      const schema = shape[k];
      return schema === undefined ? [] : leavesOf(schema, k, defaults[k]);
    }),
  }));
  const lines = [
    '# Configuration reference',
    '',
    `<!-- ${GENERATED_NOTE} Source: the config schema (src/config/schema.ts and each controller's config-schema.ts). -->`,
    '',
    'The agent reads `/etc/mesh-node-agent/config.yaml` (`--config PATH` for another file). Every key is',
    'optional. Each value comes from, lowest first: the built-in default, then Istio\'s env files',
    '(`istio.sidecarEnv`, then `istio.clusterEnv`) for the keys that name a variable below, then the YAML.',
    'A variable marked *trusted files only* steers where the agent connects or what escapes capture: it is',
    'read only from an env file owned by root that no one else can write, and ignored with a warning',
    'otherwise (README "Configuration"). `mesh-node-agent check-config` prints every value with where it',
    'came from, and reports problems as `file:line:col: key: problem`; `systemctl reload` applies a new',
    'file, and an invalid one keeps the running config.',
    '',
    'Durations are written `30s`, `15m`, `24h` (a bare number is milliseconds). A key of a list of objects',
    'is written `list[].field`. Cross-field checks (a subnet outside its network, TLS settings that go',
    'together) are described in each capability\'s document.',
    '',
    '| key | default | env file |',
    '|---|---|---|',
    ...sections.flatMap((s) => s.leaves.map((leaf) => `| [\`${leaf.key}\`](#${anchor(leaf.key)}) | ${leaf.key.includes('[]') ? '' : code(leaf.default)} | ${envText(env.get(leaf.key), false)} |`)),
    '',
  ];
  for (const section of sections) {
    lines.push(`## ${section.title}`, '', section.about, '');
    for (const leaf of section.leaves) {
      lines.push(`### \`${leaf.key}\``, '', leaf.doc.description, '');
      lines.push(`- type: ${leaf.type}`);
      if (!leaf.key.includes('[]')) lines.push(`- default: ${code(leaf.default)}`);
      lines.push(`- example: ${code(leaf.doc.example)}`);
      const vars = env.get(leaf.key);
      if (vars !== undefined) lines.push(`- env file: ${envText(vars, true)}`);
      lines.push('');
    }
  }
  return { files: new Map([['docs/config.md', lines.join('\n')]]), owns: [] };
}

function leavesOf(schema: z.ZodType, path: string, defaults: unknown): Leaf[] {
  const doc = keyDocs.get(schema);
  const def = defOf(schema);
  if (doc === undefined) {
    if (def.type !== 'object' || def.shape === undefined) throw new Error(`config key ${path} has no description: declare it with key() (src/config/schema-types.ts)`);
    const tree = (defaults ?? {}) as Record<string, unknown>;
    return Object.entries(def.shape).flatMap(([name, child]) => leavesOf(child, `${path}.${name}`, tree[name]));
  }
  const leaf: Leaf = { key: path, doc, type: doc.type ?? typeOf(schema), default: defaults };
  // A list of objects: its fields are documented too, as list[].field.
  const element = def.type === 'array' && def.element !== undefined ? defOf(def.element) : undefined;
  if (element?.type !== 'object' || element.shape === undefined) return [leaf];
  return [leaf, ...Object.entries(element.shape).flatMap(([name, child]) => leavesOf(child, `${path}[].${name}`, undefined))];
}

function typeOf(schema: z.ZodType): string {
  const named = typeName(schema);
  if (named !== undefined) return named;
  const def = defOf(schema);
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  switch (def.type) {
    case 'boolean':
      return 'boolean';
    case 'string': {
      const min = checks.find((c) => c.check === 'min_length')?.minimum;
      const max = checks.find((c) => c.check === 'max_length')?.maximum;
      return ['string', min === undefined || min < 1 ? undefined : 'not empty', max === undefined ? undefined : `at most ${max} characters`].filter((p) => p !== undefined).join(', ');
    }
    case 'number':
      return numberType(schema, checks);
    case 'enum':
      return `one of ${Object.values(def.entries ?? {}).map((v) => code(v)).join(', ')}`;
    case 'literal':
      return `always ${(def.values ?? []).map((v) => code(v)).join(', ')}`;
    case 'array': {
      const min = checks.find((c) => c.check === 'min_length')?.minimum;
      const element = def.element === undefined ? 'values' : defOf(def.element).type === 'object' ? 'objects (fields below)' : typeOf(def.element);
      return `list of ${plural(element)}${min === undefined || min < 1 ? '' : `, at least ${min === 1 ? 'one' : min}`}`;
    }
    case 'union':
      return (def.options ?? []).map((o) => (defOf(o).type === 'literal' && defOf(o).values?.[0] === '' ? 'empty' : typeOf(o))).join(' or ');
    default:
      throw new Error(`scripts/gen/config-doc.ts: no type name for a ${def.type} schema; give the key a \`type\` in its key() doc`);
  }
}

/** "CIDR" → "CIDRs", "port (1-65535)" → "ports (1-65535)": the first words of a type name, plural. */
function plural(type: string): string {
  return type.replace(/^(IP address|CIDR|port|string)\b/, (word) => (word === 'IP address' ? 'IP addresses' : `${word}s`));
}

function numberType(schema: z.ZodType, checks: { check: string; value?: unknown; inclusive?: boolean }[]): string {
  const kind = (schema as unknown as { isInt: boolean }).isInt ? 'integer' : 'number';
  const low = checks.find((c) => c.check === 'greater_than');
  const high = checks.find((c) => c.check === 'less_than');
  if (low?.inclusive === true && high?.inclusive === true) return `${kind}, ${String(low.value)} to ${String(high.value)}`;
  const bounds = [low === undefined ? undefined : `${low.inclusive === true ? '≥' : '>'} ${String(low.value)}`, high === undefined ? undefined : `${high.inclusive === true ? '≤' : '<'} ${String(high.value)}`];
  const text = bounds.filter((b) => b !== undefined).join(' and ');
  return text === '' ? kind : `${kind}, ${text}`;
}

function envText(vars: { variable: string; steersTrust: boolean }[] | undefined, long: boolean): string {
  if (vars === undefined) return '';
  const names = vars.map((v) => `\`${v.variable}\``).join(long ? ', or ' : ', ');
  if (!long) return names;
  const derived = vars.length > 1 ? ' (the address is derived as `istiod.<ISTIO_SYSTEM_NAMESPACE>.svc:<ISTIO_PILOT_PORT>` when `CA_ADDR` is unset)' : '';
  return `${names}${derived}${vars.some((v) => v.steersTrust) ? '; trusted files only' : ''}`;
}

/** A value as YAML flow text in backticks. */
function code(value: unknown): string {
  const text = stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

/** GitHub's heading anchor for "`key`": lower case, punctuation but - and _ dropped. */
function anchor(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9_ -]/g, '').replace(/ /g, '-');
}
