/**
 * An etcd v3 client from `overlay.etcd`: endpoints and optional TLS (CA, client cert and key read
 * from files). Failing to read a TLS file is a config error that names the file.
 */
import { readFile } from 'node:fs/promises';
import { Etcd3, type IOptions } from 'etcd3';
import type { OverlayConfig } from '../config/schema.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';

export type EtcdSettings = OverlayConfig['etcd'];

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/**
 * etcd3's default per-host policy is a circuit breaker that, after three failures, fails every
 * call for 5 s without trying: the agent would stay not ready for up to 5 s after etcd is back.
 * Our loops pace their own retries (etcd-backoff.ts), so calls go straight through.
 */
export function passThroughPolicy(): HostPolicy {
  const noEvent = (): { dispose(): void } => ({ dispose: () => undefined });
  const policy = {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> => fn({ signal: signal ?? new AbortController().signal }),
  };
  // `_altReturn` exists only in cockatiel's types; nothing reads it at run time.
  return policy as unknown as HostPolicy;
}

async function readTlsFile(path: string, key: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new AgentError(ErrorCode.ConfigInvalid, `overlay.etcd.tls.${key}: cannot read ${path}: ${errorMessage(err)}; fix the path or the file's permissions`, { cause: err });
  }
}

/** Client options; exported so tests can check the TLS wiring without a server. */
export async function etcdClientOptions(settings: EtcdSettings): Promise<IOptions> {
  if (settings.endpoints.length === 0) throw new AgentError(ErrorCode.ConfigInvalid, 'overlay.etcd.endpoints is empty; list the etcd URLs, e.g. [http://10.0.0.1:2379]');
  const { ca, cert, key } = settings.tls;
  const usesHttps = settings.endpoints.some((e) => e.startsWith('https:'));
  if ((cert === '') !== (key === '')) throw new AgentError(ErrorCode.ConfigInvalid, 'overlay.etcd.tls: set both cert and key (client authentication) or neither');
  const options: IOptions = {
    hosts: settings.endpoints.map((e) => e.replace(/\/+$/, '')),
    dialTimeout: 3000,
    // HTTP/2 pings notice a silent partition (an idle watch stream sees no error otherwise) within
    // ~15 s; etcd accepts pings every 5 s or slower (--grpc-keepalive-min-time).
    grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 },
    // A short per-call deadline: when etcd is down we want a clear failure, not a hung reconcile.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 5000 }),
    faultHandling: { host: () => passThroughPolicy() },
  };
  if (ca !== '' || cert !== '' || usesHttps) {
    if (ca === '') throw new AgentError(ErrorCode.ConfigInvalid, 'overlay.etcd.tls.ca is empty but TLS is in use; set the CA that signed the etcd server certificate');
    options.credentials = {
      rootCertificate: await readTlsFile(ca, 'ca'),
      ...(cert === '' ? {} : { certChain: await readTlsFile(cert, 'cert'), privateKey: await readTlsFile(key, 'key') }),
    };
  }
  return options;
}

export async function createEtcdClient(settings: EtcdSettings): Promise<Etcd3> {
  return new Etcd3(await etcdClientOptions(settings));
}
