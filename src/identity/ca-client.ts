/**
 * What both CA protocols share: the credentials of one attempt, the answer shape, the TLS
 * channel (trusting the mesh root, with the current certificate as client certificate when it is
 * still valid) and gRPC call plumbing with a deadline and cancellation.
 */
import { credentials, Metadata, status as grpcStatus, type CallOptions, type ClientUnaryCall, type requestCallback, type ServiceError } from '@grpc/grpc-js';
import { AgentError, ErrorCode } from '../errors.js';

export interface CaCredentials {
  /** PEM bundle the CA's serving certificate must chain to. */
  trustedRootsPem: string;
  /** The current, still valid certificate: presented for mTLS. */
  clientCert?: { keyPem: string; chainPem: string };
  /** Bearer JWT from ca.tokenFile, when present. */
  token?: string;
}

export interface CaRequest {
  csrPem: string;
  ttlMs: number;
  credentials: CaCredentials;
  signal?: AbortSignal;
}

export interface CaAnswer {
  /** Leaf first, then intermediates (and, for istiod, the root last). */
  chain: string[];
  /** The root the CA sent, when the protocol carries one. */
  root?: string;
  /** How this call authenticated, for status and logs. */
  auth: string;
}

export interface CaClient {
  readonly protocol: 'istiod' | 'citadel';
  sign(request: CaRequest): Promise<CaAnswer>;
}

export interface CaEndpoint {
  address: string;
  serverName: string;
  timeoutMs: number;
}

export function channelCredentials(creds: CaCredentials): ReturnType<typeof credentials.createSsl> {
  const roots = Buffer.from(creds.trustedRootsPem);
  if (creds.clientCert === undefined) return credentials.createSsl(roots);
  return credentials.createSsl(roots, Buffer.from(creds.clientCert.keyPem), Buffer.from(creds.clientCert.chainPem));
}

export function channelOptions(endpoint: CaEndpoint): Record<string, string | number> {
  return {
    'grpc.ssl_target_name_override': endpoint.serverName,
    'grpc.default_authority': endpoint.serverName,
    // One attempt per channel: no transparent reconnect loops hiding a down CA.
    'grpc.max_reconnect_backoff_ms': 1000,
    'grpc.enable_retries': 0,
  };
}

export function describeAuth(creds: CaCredentials): string {
  const parts = [creds.clientCert === undefined ? '' : 'mtls', creds.token === undefined ? '' : 'token'].filter((p) => p !== '');
  return parts.length === 0 ? 'none' : parts.join('+');
}

export function baseMetadata(creds: CaCredentials, extra: Record<string, string>): Metadata {
  const md = new Metadata();
  if (creds.token !== undefined) md.set('authorization', `Bearer ${creds.token}`);
  for (const [key, value] of Object.entries(extra)) md.set(key, value);
  return md;
}

/** A generated client's unary method, e.g. `(req, md, options, cb) => client.CreateCertificate(req, md, options, cb)`. */
export type UnaryMethod<Req, Res> = (request: Req, metadata: Metadata, options: CallOptions, callback: requestCallback<Res>) => ClientUnaryCall;

/** One unary call with a deadline; the abort signal cancels it. Errors become MNA_CA_UNAVAILABLE. */
export function unaryCall<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, metadata: Metadata, endpoint: CaEndpoint, signal: AbortSignal | undefined, what: string): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new AgentError(ErrorCode.CaUnavailable, `${what}: cancelled`));
      return;
    }
    const call = method(request, metadata, { deadline: Date.now() + endpoint.timeoutMs }, (err, value) => {
      signal?.removeEventListener('abort', onAbort);
      if (err !== null) {
        reject(grpcError(err, endpoint, what));
        return;
      }
      if (value === undefined) reject(new AgentError(ErrorCode.CaUnavailable, `${what}: empty answer`));
      else resolve(value);
    });
    function onAbort(): void {
      call.cancel();
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function grpcError(err: ServiceError, endpoint: CaEndpoint, what: string): AgentError {
  const codeName = grpcStatus[err.code] ?? String(err.code);
  const hint =
    err.code === grpcStatus.UNAUTHENTICATED
      ? ' (no valid certificate or token was accepted: check ca.tokenFile, or re-provision key.pem/cert-chain.pem)'
      : err.code === grpcStatus.UNAVAILABLE
        ? ` (is the CA reachable at ${endpoint.address}, and does its certificate match server name "${endpoint.serverName}" and ca.rootCert?)`
        : '';
  return new AgentError(ErrorCode.CaUnavailable, `${what} to ${endpoint.address} failed: ${codeName}: ${err.details || err.message}${hint}`, { cause: err });
}
