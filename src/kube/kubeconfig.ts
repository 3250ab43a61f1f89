/**
 * kubeconfig parsing (pure: text in, KubeTarget out). Supported: current-context or a named
 * context; a cluster's server, tls-server-name, certificate-authority(-data); a user's token,
 * tokenFile, client-certificate(-data) + client-key(-data). Refused with what to do instead:
 * insecure-skip-tls-verify, exec and auth-provider plugins, basic auth, impersonation, proxy-url.
 * Relative paths resolve against the kubeconfig's directory, as kubectl does. Every problem is
 * reported as file:line:col: key: problem.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { locate, parseYaml, type YamlSource } from '../config/yaml-source.js';
import { ConfigError, ErrorCode } from '../errors.js';
import { serverProblem } from './config-schema.js';
import { tokenProblem } from './token-source.js';
import { kubeConfigError, type KubeTarget, type Material, type Origin, type TokenSpec } from './target.js';

type Tree = Record<string, unknown>;
type YamlPath = (string | number)[];

interface Ctx {
  source: YamlSource;
  file: string;
  dir: string;
}

/** Unsupported user keys → what to do instead. */
const USER_REFUSED: Record<string, string> = {
  exec: 'exec credential plugins are not supported (the agent calls no helper programs); give this user a token, a tokenFile or a client certificate, e.g. a ServiceAccount token from `kubectl create token SA`',
  'auth-provider': 'auth-provider plugins are not supported; give this user a token, a tokenFile or a client certificate, e.g. a ServiceAccount token from `kubectl create token SA`',
  username: 'basic authentication is not supported (Kubernetes removed it); use a token, a tokenFile or a client certificate',
  password: 'basic authentication is not supported (Kubernetes removed it); use a token, a tokenFile or a client certificate',
  as: 'impersonation is not supported; give the agent its own identity with exactly the permissions it needs',
  'as-groups': 'impersonation is not supported; give the agent its own identity with exactly the permissions it needs',
  'as-uid': 'impersonation is not supported; give the agent its own identity with exactly the permissions it needs',
  'as-user-extra': 'impersonation is not supported; give the agent its own identity with exactly the permissions it needs',
};

function origin(ctx: Ctx, path: YamlPath, key: string, keyName?: string): Origin {
  const pos = locate(ctx.source, path, keyName);
  return { file: ctx.file, line: pos?.line ?? 1, col: pos?.col ?? 1, key };
}

function fail(ctx: Ctx, path: YamlPath, key: string, problem: string): never {
  throw kubeConfigError(origin(ctx, path, key), problem);
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optString(ctx: Ctx, tree: Tree, path: YamlPath, label: string, field: string): string | undefined {
  const value = tree[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(ctx, [...path, field], `${label}.${field}`, 'must be a string (quote it)');
  return value;
}

/** The `inner` mapping of the entry named `name` in the list `listKey` (clusters, users, contexts). */
function findNamed(ctx: Ctx, listKey: string, inner: string, name: string, from: Origin): { tree: Tree; path: YamlPath; label: string } {
  const list = ctx.source.value[listKey];
  if (list !== undefined && list !== null && !Array.isArray(list)) fail(ctx, [listKey], listKey, 'must be a list');
  const entries = (Array.isArray(list) ? list : []) as unknown[];
  const indexes = entries.flatMap((entry, index) => (isTree(entry) && entry.name === name ? [index] : []));
  const singular = listKey.slice(0, -1);
  if (indexes.length === 0) {
    const names = entries.flatMap((entry) => (isTree(entry) && typeof entry.name === 'string' ? [entry.name] : []));
    throw kubeConfigError(from, `no ${singular} named "${name}" in ${listKey} (${names.length === 0 ? 'the list is empty' : `it has: ${names.join(', ')}`})`);
  }
  const index = indexes[0] ?? 0;
  const label = `${listKey}["${name}"]`;
  if (indexes.length > 1) fail(ctx, [listKey, indexes[1] ?? 0], label, `two ${listKey} are named "${name}"; rename one`);
  const value = (entries[index] as Tree)[inner];
  if (value === undefined || value === null) return { tree: {}, path: [listKey, index, inner], label: `${label}.${inner}` };
  if (!isTree(value)) fail(ctx, [listKey, index, inner], `${label}.${inner}`, 'must be a mapping');
  return { tree: value, path: [listKey, index, inner], label: `${label}.${inner}` };
}

function decodeBase64(ctx: Ctx, path: YamlPath, key: string, text: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    fail(ctx, path, key, 'is not base64 (the -data keys hold the base64 of the PEM file)');
  }
  return Buffer.from(compact, 'base64');
}

/** `<field>` (a path) or `<field>-data` (base64); -data wins when both are set, as in kubectl. */
function material(ctx: Ctx, tree: Tree, path: YamlPath, label: string, field: string): Material | undefined {
  const data = optString(ctx, tree, path, label, `${field}-data`);
  if (data !== undefined && data.trim() !== '') {
    const at = [...path, `${field}-data`];
    return { kind: 'data', data: decodeBase64(ctx, at, `${label}.${field}-data`, data), origin: origin(ctx, at, `${label}.${field}-data`) };
  }
  const file = optString(ctx, tree, path, label, field);
  if (file === undefined || file === '') return undefined;
  return { kind: 'file', path: resolvePath(ctx, file), origin: origin(ctx, [...path, field], `${label}.${field}`) };
}

function resolvePath(ctx: Ctx, path: string): string {
  return isAbsolute(path) ? path : resolve(ctx.dir, path);
}

function readCluster(ctx: Ctx, target: KubeTarget, cluster: { tree: Tree; path: YamlPath; label: string }): void {
  const { tree, path, label } = cluster;
  const server = optString(ctx, tree, path, label, 'server');
  if (server === undefined || server === '') fail(ctx, path, `${label}.server`, 'is missing; write the API server URL, e.g. https://10.0.0.10:6443');
  const problem = serverProblem(server);
  if (problem !== undefined) fail(ctx, [...path, 'server'], `${label}.server`, problem);
  target.server = server.replace(/\/+$/, '');
  if (tree['insecure-skip-tls-verify'] === true) {
    fail(ctx, [...path, 'insecure-skip-tls-verify'], `${label}.insecure-skip-tls-verify`, 'turns off verification of the API server, so anyone on the path could act as the cluster; remove it and set certificate-authority or certificate-authority-data');
  }
  const proxy = optString(ctx, tree, path, label, 'proxy-url');
  if (proxy !== undefined && proxy !== '') fail(ctx, [...path, 'proxy-url'], `${label}.proxy-url`, 'proxies are not supported; reach the API server directly');
  const sni = optString(ctx, tree, path, label, 'tls-server-name');
  if (sni !== undefined && sni !== '') target.tlsServerName = sni;
  const ca = material(ctx, tree, path, label, 'certificate-authority');
  if (ca !== undefined) target.ca = ca;
}

function readUser(ctx: Ctx, target: KubeTarget, user: { tree: Tree; path: YamlPath; label: string }): void {
  const { tree, path, label } = user;
  for (const [field, problem] of Object.entries(USER_REFUSED)) {
    if (tree[field] !== undefined && tree[field] !== null && tree[field] !== '') fail(ctx, [...path, field], `${label}.${field}`, problem);
  }
  const token = optString(ctx, tree, path, label, 'token');
  const tokenFile = optString(ctx, tree, path, label, 'tokenFile');
  let spec: TokenSpec | undefined;
  if (token !== undefined && token !== '') {
    const problem = tokenProblem(token.trim());
    if (problem !== undefined) fail(ctx, [...path, 'token'], `${label}.token`, `the token ${problem}`);
    spec = { kind: 'static', value: token, origin: origin(ctx, [...path, 'token'], `${label}.token`) };
  }
  else if (tokenFile !== undefined && tokenFile !== '') spec = { kind: 'file', path: resolvePath(ctx, tokenFile), origin: origin(ctx, [...path, 'tokenFile'], `${label}.tokenFile`) };
  if (spec !== undefined) target.token = spec;
  const cert = material(ctx, tree, path, label, 'client-certificate');
  const key = material(ctx, tree, path, label, 'client-key');
  if (cert !== undefined && key === undefined) fail(ctx, path, `${label}.client-key`, 'is missing: a client-certificate needs its client-key (or client-key-data)');
  if (key !== undefined && cert === undefined) fail(ctx, path, `${label}.client-certificate`, 'is missing: a client-key needs its client-certificate (or client-certificate-data)');
  if (cert !== undefined && key !== undefined) target.clientCert = { cert, key };
}

/** Parses a kubeconfig's text. `context` overrides current-context. Throws MNA_KUBE_CONFIG_INVALID. */
export function parseKubeconfig(text: string, file: string, context = ''): KubeTarget {
  const parsed = parseYaml(text, file);
  if (parsed.source === undefined) throw new ConfigError(parsed.issues, ErrorCode.KubeConfigInvalid);
  const ctx: Ctx = { source: parsed.source, file, dir: dirname(resolve(file)) };
  const root = ctx.source.value;
  if (root.kind !== undefined && root.kind !== 'Config') fail(ctx, ['kind'], 'kind', `is ${JSON.stringify(root.kind)}; a kubeconfig has kind: Config`);
  const current = optString(ctx, root, [], '', 'current-context');
  const name = context !== '' ? context : current;
  const nameOrigin: Origin = context !== '' ? { key: 'kubernetes.context' } : origin(ctx, ['current-context'], 'current-context');
  if (name === undefined || name === '') fail(ctx, [], 'current-context', 'is not set; set current-context in the kubeconfig or kubernetes.context');
  const ctxEntry = findNamed(ctx, 'contexts', 'context', name, nameOrigin);
  const clusterName = optString(ctx, ctxEntry.tree, ctxEntry.path, ctxEntry.label, 'cluster');
  if (clusterName === undefined || clusterName === '') fail(ctx, ctxEntry.path, `${ctxEntry.label}.cluster`, 'is missing; name the cluster this context uses');
  const target: KubeTarget = { server: '', description: `kubeconfig ${file} (context ${name})` };
  readCluster(ctx, target, findNamed(ctx, 'clusters', 'cluster', clusterName, origin(ctx, [...ctxEntry.path, 'cluster'], `${ctxEntry.label}.cluster`)));
  const userName = optString(ctx, ctxEntry.tree, ctxEntry.path, ctxEntry.label, 'user');
  if (userName !== undefined && userName !== '') {
    readUser(ctx, target, findNamed(ctx, 'users', 'user', userName, origin(ctx, [...ctxEntry.path, 'user'], `${ctxEntry.label}.user`)));
  }
  const namespace = optString(ctx, ctxEntry.tree, ctxEntry.path, ctxEntry.label, 'namespace');
  if (namespace !== undefined && namespace !== '') target.namespace = namespace;
  return target;
}
