/**
 * From the `kubernetes:` settings to a ready client: the kubeconfig (or server/caFile/tokenFile)
 * resolved, its TLS files read and checked, the token source set up. No request is made here.
 */
import { readFile } from 'node:fs/promises';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { VERSION } from '../version.js';
import { KubeClient } from './client.js';
import { kubernetesConfigured, type KubernetesConfig } from './config-schema.js';
import { loadTlsMaterial } from './credentials.js';
import { parseKubeconfig } from './kubeconfig.js';
import { targetFromSettings, type KubeTarget } from './target.js';
import { createTokenSource } from './token-source.js';
import { Transport } from './transport.js';

export interface ConnectOptions {
  /** How long a token file's content is trusted before it is read again; default 60 s. */
  tokenMaxAgeMs?: number;
}

/** Resolves the settings to a target; reads the kubeconfig when one is set. */
export async function loadTarget(settings: KubernetesConfig): Promise<KubeTarget> {
  if (!kubernetesConfigured(settings)) {
    throw new AgentError(ErrorCode.KubeConfigInvalid, 'kubernetes: no API server configured; set kubernetes.kubeconfig, or kubernetes.server with caFile and tokenFile');
  }
  if (settings.kubeconfig === '') return targetFromSettings(settings);
  let text: string;
  try {
    text = await readFile(settings.kubeconfig, 'utf8');
  } catch (err) {
    throw new AgentError(ErrorCode.KubeConfigInvalid, `kubernetes.kubeconfig: cannot read ${settings.kubeconfig}: ${errorMessage(err)}; fix the path or the file's permissions`, { cause: err });
  }
  return parseKubeconfig(text, settings.kubeconfig, settings.context);
}

export async function clientForTarget(target: KubeTarget, settings: Pick<KubernetesConfig, 'timeout'>, options: ConnectOptions = {}): Promise<KubeClient> {
  const tls = await loadTlsMaterial(target);
  const tokens = createTokenSource(target.token, options.tokenMaxAgeMs === undefined ? {} : { maxAgeMs: options.tokenMaxAgeMs });
  const transport = new Transport({ server: target.server, tls, tokens, timeoutMs: settings.timeout, userAgent: `mesh-node-agent/${VERSION}` });
  return new KubeClient(transport, target.description);
}

/** The client for the `kubernetes:` settings. Throws MNA_KUBE_CONFIG_INVALID naming file and key. */
export async function createKubeClient(settings: KubernetesConfig, options: ConnectOptions = {}): Promise<KubeClient> {
  return clientForTarget(await loadTarget(settings), settings, options);
}
