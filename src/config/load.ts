/**
 * Loads the effective config: built-in defaults < Istio env files < YAML. Records where every
 * leaf value came from (for `check-config`) and reports problems as file:line:col: key: problem.
 * Env files someone other than root can write give only their non-steering values, and their
 * problems are warnings (env-files.ts). The YAML is read without positions when it can be
 * (yaml-source.ts); given the previous load, a file and env files that have not changed give that
 * load back without parsing or validating anything again.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, ErrorCode, errorMessage, formatIssue, type ConfigIssue } from '../errors.js';
import { defaultConfig } from './defaults.js';
import { FORBIDDEN_KEYS } from './key-guard.js';
import { loadEnvFiles, type EnvFiles } from './env-files.js';
import { mapIstioEnv, type EnvSetting } from './istio-env.js';
import { registryWarnings } from '../registry/etcd-config.js';
import { configSchema, type Config } from './schema.js';
import { ValueSources } from './value-sources.js';
import { hasPath, locate, readYaml, type YamlInput } from './yaml-source.js';

export const DEFAULT_CONFIG_PATH = '/etc/mesh-node-agent/config.yaml';

export interface LoadedConfig {
  config: Config;
  /** The merged document in the form users write (durations as text). */
  raw: Record<string, unknown>;
  /** "overlay.vni" → "default" | "/etc/…/config.yaml:4:8" | "/var/…/cluster.env:3 (CA_ADDR)" */
  sources: ValueSources;
  path: string;
  envFiles: string[];
  /** Env file values ignored and why (check-config prints them, run logs them). */
  warnings: string[];
  /** What it was made from: the YAML as read and the env files' fingerprint (see `previous`). */
  basis: { yaml: YamlInput | undefined; env: string };
}

export interface LoadOptions {
  path: string;
  /** A missing file is an error when true; otherwise defaults (plus env files) are used. */
  mustExist: boolean;
  /** The running config: returned as it is when neither the file nor the env files changed. */
  previous?: LoadedConfig;
}

type Tree = Record<string, unknown>;

export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const text = await readOptional(options.path, options.mustExist);
  const previous = options.previous?.path === options.path ? options.previous : undefined;
  const sameText = previous !== undefined && text === previous.basis.yaml?.text;
  let yaml: YamlInput | undefined;
  if (sameText) {
    yaml = previous.basis.yaml;
  } else if (text !== undefined) {
    const parsed = readYaml(text, options.path);
    if (parsed.issues.length > 0) throw new ConfigError(parsed.issues);
    yaml = parsed.input;
  }
  const raw = defaultConfig();

  // The env files' own location may be configured in YAML.
  const istio = { ...(raw.istio as Tree), ...asTree(yaml?.value.istio) };
  const envFiles = [istio.sidecarEnv, istio.clusterEnv].filter((f): f is string => typeof f === 'string' && f !== '');
  const envs = await loadEnvFiles(envFiles);
  const envPrint = envFingerprint(envs);
  if (sameText && previous.basis.env === envPrint) return previous;

  const source = yaml;
  const sources = new ValueSources(source === undefined ? undefined : () => source.positions());
  for (const leaf of leaves(raw)) sources.set(leaf.join('.'), 'default');
  const issues: ConfigIssue[] = [...envs.issues];
  const warnings = [...envs.warnings];
  const mapped = mapIstioEnv(envs.env);
  for (const issue of mapped.issues) {
    if (envs.untrusted.has(issue.file)) warnings.push(`${formatIssue(issue)}; ignored`);
    else issues.push(issue);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  for (const setting of mapped.settings) {
    setIn(raw, setting.path, setting.value);
    sources.set(setting.path.join('.'), envLabel(setting));
  }

  if (source !== undefined) mergeInto(raw, source.value, [], (path) => sources.setYaml(path));

  let result = configSchema.safeParse(raw);
  // A value from an env file someone else can write never makes the config invalid: it is
  // dropped (the default stays) with a warning. Each pass drops at least one, so this ends.
  while (!result.success) {
    const dropped = dropUntrustedValues(result.error.issues, mapped.settings, envs.untrusted, raw, sources);
    if (dropped.length === 0) break;
    warnings.push(...dropped);
    result = configSchema.safeParse(raw);
  }
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.flatMap((issue) => {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
        return keys.map((unknownKey) => toIssue(issue.path, issue.message, unknownKey, yaml, sources, options.path));
      }),
    );
  }
  for (const w of registryWarnings(result.data.overlay)) {
    const key = w.path.join('.');
    const where = sources.get(key) ?? sources.get(w.path.slice(0, -1).join('.')) ?? options.path;
    warnings.push(`${where}: ${key}: ${w.message}`);
  }
  return { config: result.data, raw, sources, path: options.path, envFiles: envs.loaded, warnings, basis: { yaml, env: envPrint } };
}

/** Everything the env files contribute: equal prints, equal contributions. */
function envFingerprint(envs: EnvFiles): string {
  return JSON.stringify([[...envs.env.values()], envs.issues, envs.warnings, envs.loaded, [...envs.untrusted]]);
}

function toIssue(
  path: readonly PropertyKey[],
  message: string,
  unknownKey: string | undefined,
  input: YamlInput | undefined,
  sources: ValueSources,
  configPath: string,
): ConfigIssue {
  const fullPath = unknownKey === undefined ? path : [...path, unknownKey];
  const key = fullPath.map(String).join('.');
  const text = unknownKey === undefined ? message : 'unknown key; check its spelling (docs/config.md lists every key)';
  const yaml = input?.positions();
  if (yaml !== undefined && (unknownKey !== undefined || hasPath(yaml, path) || !envSourceFor(sources, path))) {
    const pos = locate(yaml, path, unknownKey) ?? { line: 1, col: 1 };
    return { file: yaml.file, line: pos.line, col: pos.col, key, message: text };
  }
  const envSource = envSourceFor(sources, path);
  if (envSource !== undefined) {
    const m = /^(.*):(\d+) \((\w+)\)$/.exec(envSource);
    if (m !== null) return { file: m[1] ?? '', line: Number(m[2]), col: 1, key: `${key} (${m[3]})`, message: text };
  }
  return { file: yaml === undefined ? configPath : yaml.file, line: 1, col: 1, key, message: text };
}

function envLabel(setting: EnvSetting): string {
  return `${setting.entry.file}:${setting.entry.line} (${setting.entry.key})`;
}

function dropUntrustedValues(
  problems: readonly { path: readonly PropertyKey[]; message: string }[],
  settings: readonly EnvSetting[],
  untrusted: ReadonlySet<string>,
  raw: Tree,
  sources: ValueSources,
): string[] {
  const dropped: string[] = [];
  for (const problem of problems) {
    const at = problem.path.map(String);
    const setting = settings.find((s) => untrusted.has(s.entry.file) && s.path.every((key, i) => at[i] === key) && sources.origin(s.path.join('.')) === envLabel(s));
    if (setting === undefined) continue;
    setIn(raw, setting.path, getIn(defaultConfig(), setting.path));
    sources.set(setting.path.join('.'), 'default');
    dropped.push(`${envLabel(setting)}: ${problem.message}; ignored, the default is kept`);
  }
  return dropped;
}

function getIn(tree: Tree, path: readonly string[]): unknown {
  let node: unknown = tree;
  for (const key of path) node = isTree(node) ? node[key] : undefined;
  return node;
}

function envSourceFor(sources: ValueSources, path: readonly PropertyKey[]): string | undefined {
  for (let n = path.length; n > 0; n -= 1) {
    const src = sources.origin(path.slice(0, n).map(String).join('.'));
    if (src !== undefined && src !== 'default' && /\(\w+\)$/.test(src)) return src;
  }
  return undefined;
}

async function readOptional(path: string, mustExist: boolean): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !mustExist) return undefined;
    throw new ConfigError(
      [{ file: path, line: 0, col: 0, key: '', message: `cannot read (${code ?? errorMessage(err)}); pass --config PATH to a readable YAML file` }],
      ErrorCode.ConfigUnreadable,
    );
  }
}

function asTree(value: unknown): Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Tree) : {};
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars replace; YAML nulls (`key:` with no value) leave the default. */
function mergeInto(target: Tree, overlay: Tree, path: string[], onLeaf: (path: string[]) => void): void {
  for (const [key, value] of Object.entries(overlay)) {
    // Such keys are refused with their position by parseYaml; never merged, whatever the caller.
    if (value === null || value === undefined || FORBIDDEN_KEYS.has(key)) continue;
    const here = [...path, key];
    const current = Object.hasOwn(target, key) ? target[key] : undefined;
    if (isTree(value) && isTree(current)) {
      mergeInto(current, value, here, onLeaf);
    } else {
      target[key] = value;
      if (isTree(value)) for (const leaf of leaves(value)) onLeaf([...here, ...leaf]);
      else onLeaf(here);
    }
  }
}

function setIn(target: Tree, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (!isTree(next)) node[key] = {};
    node = node[key] as Tree;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

function leaves(tree: Tree, prefix: string[] = []): string[][] {
  return Object.entries(tree).flatMap(([key, value]) =>
    isTree(value) && Object.keys(value).length > 0 ? leaves(value, [...prefix, key]) : [[...prefix, key]],
  );
}
