/**
 * Where the API is and who we are, before any file is read: the pure result of a kubeconfig or of
 * the `kubernetes:` keys. Every value remembers where it was written, so an error can name the
 * file and the key.
 */
import { AgentError, ConfigError, ErrorCode } from '../errors.js';
import type { KubernetesConfig } from './config-schema.js';

/** A config key (`kubernetes.caFile`) or a kubeconfig position (`users["vm"].user.token` at file:line:col). */
export interface Origin {
  key: string;
  file?: string;
  line?: number;
  col?: number;
}

/** PEM material given as a path or inline (`*-data`, base64 in the kubeconfig). */
export type Material = { kind: 'file'; path: string; origin: Origin } | { kind: 'data'; data: Buffer; origin: Origin };

export type TokenSpec = { kind: 'static'; value: string; origin: Origin } | { kind: 'file'; path: string; origin: Origin };

export interface KubeTarget {
  /** https URL, without a trailing slash; a path prefix is kept. */
  server: string;
  /** SNI and the name the serving certificate is checked against, when not the URL's host. */
  tlsServerName?: string;
  /** Undefined: the system's trusted roots. */
  ca?: Material;
  clientCert?: { cert: Material; key: Material };
  token?: TokenSpec;
  /** The context's namespace, if any (informational: callers name namespaces explicitly). */
  namespace?: string;
  /** For logs and errors: "kubeconfig /etc/… (context vm)" or "kubernetes.server". Never secret. */
  description: string;
}

export function describeOrigin(origin: Origin): string {
  if (origin.file === undefined) return origin.key;
  const at = origin.line === undefined ? origin.file : `${origin.file}:${origin.line}:${origin.col ?? 1}`;
  return `${at}: ${origin.key}`;
}

/** A configuration problem at `origin`: a ConfigError (file:line:col: key: problem) when positioned. */
export function kubeConfigError(origin: Origin, problem: string, cause?: unknown): AgentError {
  if (origin.file !== undefined) {
    const err = new ConfigError([{ file: origin.file, line: origin.line ?? 0, col: origin.col ?? 0, key: origin.key, message: problem }], ErrorCode.KubeConfigInvalid);
    if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause });
    return err;
  }
  return new AgentError(ErrorCode.KubeConfigInvalid, `${origin.key}: ${problem}`, cause === undefined ? undefined : { cause });
}

/** The target of `kubernetes.server` + `caFile` + `tokenFile` (no kubeconfig). */
export function targetFromSettings(settings: KubernetesConfig): KubeTarget {
  const target: KubeTarget = { server: settings.server.replace(/\/+$/, ''), description: `kubernetes.server ${settings.server}` };
  if (settings.caFile !== '') target.ca = { kind: 'file', path: settings.caFile, origin: { key: 'kubernetes.caFile' } };
  if (settings.tokenFile !== '') target.token = { kind: 'file', path: settings.tokenFile, origin: { key: 'kubernetes.tokenFile' } };
  return target;
}
