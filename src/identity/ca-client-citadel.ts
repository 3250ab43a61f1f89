/**
 * Legacy Citadel: IstioCAService/HandleCSR (:8060), as node_agent --env onprem spoke it: mTLS with
 * the current certificate, server name istio-citadel, credential type "onprem", the current chain
 * as credential and the TTL in minutes. The answer carries no root; it comes from ca.rootCert.
 */
import { AgentError, ErrorCode } from '../errors.js';
import { baseMetadata, channelCredentials, channelOptions, describeAuth, unaryCall, type CaAnswer, type CaClient, type CaEndpoint, type CaRequest } from './ca-client.js';
import { loadCaServices } from './ca-services.js';
import type { CsrRequest } from './generated/istio/v1/auth/CsrRequest.js';
import type { CsrResponse__Output as CsrResponse } from './generated/istio/v1/auth/CsrResponse.js';
import { splitPemCertificates } from './pem.js';

export const CITADEL_SERVER_NAME = 'istio-citadel';

export function createCitadelClient(options: CaEndpoint): CaClient {
  return {
    protocol: 'citadel',
    async sign(request: CaRequest): Promise<CaAnswer> {
      const { citadel } = loadCaServices();
      const client = new citadel(options.address, channelCredentials(request.credentials), channelOptions(options));
      try {
        const body: CsrRequest = {
          csr_pem: Buffer.from(request.csrPem),
          node_agent_credential: Buffer.from(request.credentials.clientCert?.chainPem ?? ''),
          credential_type: 'onprem',
          requested_ttl_minutes: Math.max(1, Math.ceil(request.ttlMs / 60_000)),
        };
        const response = await unaryCall<CsrRequest, CsrResponse>((req, md, call, done) => client.HandleCSR(req, md, call, done), body, baseMetadata(request.credentials, {}), options, request.signal, 'HandleCSR');
        if (!response.is_approved) {
          const detail = response.status?.message ?? 'no reason given';
          throw new AgentError(ErrorCode.CaAnswerRejected, `Citadel did not approve the CSR: ${detail}; the installed certificate is kept`);
        }
        const signed = splitPemCertificates(Buffer.from(response.signed_cert).toString('utf8'));
        if (signed.length === 0) throw new AgentError(ErrorCode.CaAnswerRejected, 'CA answer rejected: signed_cert holds no PEM certificate; the installed certificate is kept');
        const intermediates = splitPemCertificates(Buffer.from(response.cert_chain).toString('utf8'));
        return { chain: [...signed, ...intermediates], auth: describeAuth(request.credentials) };
      } finally {
        client.close();
      }
    },
  };
}
