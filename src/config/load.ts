/**
 * Loads the effective config: built-in defaults < Istio env files < YAML. Records where every
 * leaf value came from (for `check-config`) and reports problems as file:line:col: key: problem.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, ErrorCode, errorMessage, type ConfigIssue } from '../errors.js';
import { defaultConfig } from './defaults.js';
import { FORBIDDEN_KEYS } from './key-guard.js';
import { parseEnvFile, type EnvEntry } from './env-file.js';
import { mapIstioEnv } from './istio-env.js';
import { configSchema, type Config } from './schema.js';
import { hasPath, locate, parseYaml, type YamlSource } from './yaml-source.js';

export const DEFAULT_CONFIG_PATH = '/etc/mesh-node-agent/config.yaml';

export interface LoadedConfig {
  config: Config;
  /** The merged document in the form users write (durations as text). */
  raw: Record<string, unknown>;
  /** "overlay.vni" → "default" | "/etc/…/config.yaml:4:8" | "/var/…/cluster.env:3 (CA_ADDR)" */
  sources: Map<string, string>;
  path: string;
  envFiles: string[];
}

export interface LoadOptions {
  path: string;
  /** A missing file is an error when true; otherwise defaults (plus env files) are used. */
  mustExist: boolean;
}

type Tree = Record<string, unknown>;

export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const text = await readOptional(options.path, options.mustExist);
  let yaml: YamlSource | undefined;
  if (text !== undefined) {
    const parsed = parseYaml(text, options.path);
    if (parsed.issues.length > 0) throw new ConfigError(parsed.issues);
    yaml = parsed.source;
  }
  const raw = defaultConfig();
  const sources = new Map<string, string>();
  for (const leaf of leaves(raw)) sources.set(leaf.join('.'), 'default');

  // The env files' own location may be configured in YAML.
  const istio = { ...(raw.istio as Tree), ...asTree(yaml?.value.istio) };
  const envFiles = [istio.sidecarEnv, istio.clusterEnv].filter((f): f is string => typeof f === 'string' && f !== '');
  const env = new Map<string, EnvEntry>();
  const issues: ConfigIssue[] = [];
  const loadedEnvFiles: string[] = [];
  for (const file of envFiles) {
    const content = await readOptional(file, false);
    if (content === undefined) continue;
    loadedEnvFiles.push(file);
    try {
      for (const [key, entry] of parseEnvFile(content, file)) env.set(key, entry);
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
    }
  }
  const mapped = mapIstioEnv(env);
  issues.push(...mapped.issues);
  if (issues.length > 0) throw new ConfigError(issues);
  for (const setting of mapped.settings) {
    setIn(raw, setting.path, setting.value);
    sources.set(setting.path.join('.'), `${setting.entry.file}:${setting.entry.line} (${setting.entry.key})`);
  }

  if (yaml !== undefined) {
    const source = yaml;
    mergeInto(raw, source.value, [], (path) => {
      const pos = locate(source, path);
      sources.set(path.join('.'), `${source.file}:${pos?.line ?? 1}:${pos?.col ?? 1}`);
    });
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.flatMap((issue) => {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
        return keys.map((unknownKey) => toIssue(issue.path, issue.message, unknownKey, yaml, sources, options.path));
      }),
    );
  }
  return { config: result.data, raw, sources, path: options.path, envFiles: loadedEnvFiles };
}

function toIssue(
  path: readonly PropertyKey[],
  message: string,
  unknownKey: string | undefined,
  yaml: YamlSource | undefined,
  sources: Map<string, string>,
  configPath: string,
): ConfigIssue {
  const fullPath = unknownKey === undefined ? path : [...path, unknownKey];
  const key = fullPath.map(String).join('.');
  const text = unknownKey === undefined ? message : `unknown key; check its spelling against DESIGN.md "Config"`;
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

function envSourceFor(sources: Map<string, string>, path: readonly PropertyKey[]): string | undefined {
  for (let n = path.length; n > 0; n -= 1) {
    const src = sources.get(path.slice(0, n).map(String).join('.'));
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
