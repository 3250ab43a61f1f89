/**
 * The two CA services: the .proto files in proto/ loaded at run time with @grpc/proto-loader, and
 * typed by the message and client types generated from the same files with the same options
 * (src/identity/generated/, `npm run gen`). The loaded services are checked against the generated
 * ones (service and method paths) instead of being cast to them.
 */
import { loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { join } from 'node:path';
import { AgentError, ErrorCode } from '../errors.js';
import type { ProtoGrpcType as CitadelProtos } from './generated/citadel-ca-service.js';
import type { ProtoGrpcType as IstiodProtos } from './generated/istio-ca.js';
import { resolveProtoDir } from './proto-dir.js';

export const PROTO_FILES = ['istio-ca.proto', 'citadel-ca-service.proto'] as const;

/** keepCase keeps Istio's field names (validity_duration, csr_pem), as the .proto writes them. */
export const PROTO_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } satisfies Options;

export type IstiodService = IstiodProtos['istio']['v1']['auth']['IstioCertificateService'];
export type CitadelService = CitadelProtos['istio']['v1']['auth']['IstioCAService'];

export interface CaServices {
  istiod: IstiodService;
  citadel: CitadelService;
}

const PACKAGE = 'istio.v1.auth';
let cached: CaServices | undefined;

/** The services from the packaged proto/ (MNA_PROTO_DIR overrides), loaded once. */
export function loadCaServices(): CaServices {
  cached ??= loadCaServicesFrom(resolveProtoDir());
  return cached;
}

export function loadCaServicesFrom(dir: string): CaServices {
  const root = loadPackageDefinition(loadSync(PROTO_FILES.map((file) => join(dir, file)), { ...PROTO_OPTIONS, includeDirs: [dir] }));
  const istiod = lookup(root, 'IstioCertificateService');
  const citadel = lookup(root, 'IstioCAService');
  if (!isService<IstiodService>(istiod, 'IstioCertificateService', ['CreateCertificate'])) throw mismatch(dir, 'IstioCertificateService');
  if (!isService<CitadelService>(citadel, 'IstioCAService', ['HandleCSR'])) throw mismatch(dir, 'IstioCAService');
  return { istiod, citadel };
}

function lookup(root: GrpcObject, service: string): unknown {
  let node: unknown = root;
  for (const name of [...PACKAGE.split('.'), service]) node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[name] : undefined;
  return node;
}

/** A client constructor whose service has exactly the generated service's unary methods, at Istio's paths. */
function isService<T>(value: unknown, service: string, methods: readonly string[]): value is T {
  if (typeof value !== 'function') return false;
  const definition = (value as { service?: unknown }).service;
  if (typeof definition !== 'object' || definition === null) return false;
  const defined = definition as Record<string, { path?: unknown; requestStream?: unknown; responseStream?: unknown }>;
  return (
    Object.keys(defined).length === methods.length &&
    methods.every((m) => defined[m]?.path === `/${PACKAGE}.${service}/${m}` && defined[m]?.requestStream === false && defined[m]?.responseStream === false)
  );
}

function mismatch(dir: string, service: string): AgentError {
  return new AgentError(ErrorCode.InstallIncomplete, `${dir}: ${PACKAGE}.${service} is missing or differs from the one the agent was built with; reinstall the package (or point MNA_PROTO_DIR at this version's proto/)`);
}
