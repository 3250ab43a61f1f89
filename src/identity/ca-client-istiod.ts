/**
 * istiod's CA: IstioCertificateService/CreateCertificate over TLS (:15012). Authenticates with the
 * current certificate (mTLS) and/or the bearer token; always sends ClusterID, as pilot-agent does.
 */
import { AgentError, ErrorCode } from '../errors.js';
import { baseMetadata, channelCredentials, channelOptions, describeAuth, unaryCall, type CaAnswer, type CaClient, type CaEndpoint, type CaRequest } from './ca-client.js';
import { loadCaServices } from './ca-services.js';
import type { IstioCertificateRequest } from './generated/istio/v1/auth/IstioCertificateRequest.js';
import type { IstioCertificateResponse__Output as IstioCertificateResponse } from './generated/istio/v1/auth/IstioCertificateResponse.js';

export interface IstiodOptions extends CaEndpoint {
  clusterId: string;
  certSigner?: string;
}

export function createIstiodClient(options: IstiodOptions): CaClient {
  return {
    protocol: 'istiod',
    async sign(request: CaRequest): Promise<CaAnswer> {
      const { istiod } = loadCaServices();
      const client = new istiod(options.address, channelCredentials(request.credentials), channelOptions(options));
      try {
        const body: IstioCertificateRequest = {
          csr: request.csrPem,
          validity_duration: Math.max(1, Math.round(request.ttlMs / 1000)),
          metadata: { fields: { CertSigner: { stringValue: options.certSigner ?? '' } } },
        };
        const metadata = baseMetadata(request.credentials, { ClusterID: options.clusterId });
        const response = await unaryCall<IstioCertificateRequest, IstioCertificateResponse>((req, md, call, done) => client.CreateCertificate(req, md, call, done), body, metadata, options, request.signal, 'CreateCertificate');
        const chain = response.cert_chain;
        // pilot-agent rejects a chain of one element too: without the root the answer is incomplete.
        if (!Array.isArray(chain) || chain.length <= 1) {
          throw new AgentError(ErrorCode.CaAnswerRejected, `CA answer rejected: cert_chain has ${Array.isArray(chain) ? chain.length : 0} element(s), expected leaf … root; the installed certificate is kept`);
        }
        return { chain: chain.slice(0, -1), root: chain[chain.length - 1], auth: describeAuth(request.credentials) };
      } finally {
        client.close();
      }
    },
  };
}
