/**
 * The two CA services, loaded from proto/ with @grpc/proto-loader. keepCase keeps Istio's field
 * names (validity_duration, csr_pem) so the TypeScript shapes below read like the .proto.
 */
import { loadPackageDefinition, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { resolveProtoDir } from './proto-dir.js';

export interface IstioCertificateRequest {
  csr: string;
  validity_duration: number;
  metadata?: { fields: Record<string, { stringValue: string }> };
}

export interface IstioCertificateResponse {
  cert_chain: string[];
}

export interface CsrRequest {
  csr_pem: Buffer;
  node_agent_credential: Buffer;
  credential_type: string;
  requested_ttl_minutes: number;
}

export interface CsrResponse {
  is_approved: boolean;
  status?: { code: number; message: string } | null;
  signed_cert: Buffer;
  cert_chain: Buffer;
}

export interface CaProtos {
  IstioCertificateService: ServiceClientConstructor;
  IstioCAService: ServiceClientConstructor;
}

let cached: CaProtos | undefined;

export function loadCaProtos(): CaProtos {
  if (cached !== undefined) return cached;
  const dir = resolveProtoDir();
  const definition = loadSync([join(dir, 'istio-ca.proto'), join(dir, 'citadel-ca-service.proto')], {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [dir],
  });
  const root = loadPackageDefinition(definition) as unknown as { istio: { v1: { auth: CaProtos } } };
  cached = root.istio.v1.auth;
  return cached;
}

/** Service definitions, for servers (the test CA) that implement them. */
export function caServiceDefinitions(): { istiod: ServiceDefinition; citadel: ServiceDefinition } {
  const protos = loadCaProtos();
  return { istiod: protos.IstioCertificateService.service, citadel: protos.IstioCAService.service };
}
