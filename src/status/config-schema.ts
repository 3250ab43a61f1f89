/**
 * The `status:` section (the local HTTP endpoint): its schema, built-in defaults and cross-field
 * check (composed in config/schema.ts).
 */
import { z } from 'zod';
import type { CheckIssue } from '../config/check-issue.js';
import { hostPort, key } from '../config/schema-types.js';
import { isLoopback } from '../net/address.js';
import { parseHostPort } from '../net/host-port.js';

export const DEFAULT_STATUS_PORT = 15030;

export const statusSchema = z.strictObject({
  listen: key(hostPort, {
    description: 'Address of the local HTTP endpoint (`/livez`, `/readyz`, `/status`, `/metrics`). A non-loopback address needs `status.allowRemote`.',
    example: '127.0.0.1:15030',
  }),
  allowRemote: key(z.boolean(), {
    description: 'Allow a non-loopback `listen` address, and serve requests whatever their `Host` header (otherwise only loopback names are served).',
    example: false,
  }),
});

export function statusDefaults(): z.input<typeof statusSchema> {
  return { listen: `127.0.0.1:${DEFAULT_STATUS_PORT}`, allowRemote: false };
}

/** A status endpoint on a non-loopback address exposes the agent: only with an explicit opt-in. */
export function checkStatus(status: { listen: string; allowRemote: boolean }): CheckIssue[] {
  const hp = parseHostPort(status.listen);
  if (hp === undefined || isLoopback(hp.host) || status.allowRemote) return [];
  return [{ path: ['status', 'listen'], message: 'not a loopback address; set status.allowRemote: true to expose the status endpoint' }];
}
