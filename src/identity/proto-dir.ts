/**
 * Where the CA .proto files live. One function so that source runs, tests and the packaged
 * bundle all find them: MNA_PROTO_DIR wins, then paths relative to this module (repo/proto from
 * src/identity, <bundle dir>/proto or ../proto from a bundle), then the packaged location.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentError, ErrorCode } from '../errors.js';

export const PACKAGED_PROTO_DIR = '/usr/lib/mesh-node-agent/proto';
const MARKER = 'istio-ca.proto';

export function protoDirCandidates(env: NodeJS.ProcessEnv = process.env, moduleUrl: string = import.meta.url): string[] {
  const here = dirname(fileURLToPath(moduleUrl));
  const fromEnv = env.MNA_PROTO_DIR;
  return [
    ...(fromEnv !== undefined && fromEnv !== '' ? [resolve(fromEnv)] : []),
    resolve(here, '../../proto'),
    resolve(here, 'proto'),
    resolve(here, '../proto'),
    PACKAGED_PROTO_DIR,
  ];
}

export function resolveProtoDir(env: NodeJS.ProcessEnv = process.env, moduleUrl: string = import.meta.url): string {
  const candidates = protoDirCandidates(env, moduleUrl);
  // An explicit override is taken at its word, so a wrong value fails loudly instead of silently falling back.
  if (env.MNA_PROTO_DIR !== undefined && env.MNA_PROTO_DIR !== '') {
    const dir = candidates[0] ?? '';
    if (!existsSync(join(dir, MARKER))) throw new AgentError(ErrorCode.InstallIncomplete, `MNA_PROTO_DIR=${env.MNA_PROTO_DIR} does not contain ${MARKER}; point it at the agent's proto/ directory`);
    return dir;
  }
  const found = candidates.find((dir) => existsSync(join(dir, MARKER)));
  if (found === undefined) throw new AgentError(ErrorCode.InstallIncomplete, `CA protocol definitions not found (looked for ${MARKER} in ${candidates.join(', ')}); set MNA_PROTO_DIR`);
  return found;
}
