/**
 * The `dns:` section: its schema, built-in defaults and cross-field check (composed in
 * config/schema.ts).
 */
import { z } from 'zod';
import type { CheckIssue } from '../config/check-issue.js';
import { cidr, domainName, ip } from '../config/schema-types.js';
import { isLoopback } from '../net/address.js';
import { parseHostPort, parseIpPort } from '../net/host-port.js';

// Listener and server addresses end up in capture rules and socket calls: addresses, never names.
const listenAddress = z.string().refine((v) => parseIpPort(v) !== undefined, {
  message: 'not IP:PORT; write e.g. 127.0.0.1:53 or [::1]:53 (an address: it is written into the capture rules)',
});
const dnsServer = z.string().refine((v) => parseIpPort(v, 53) !== undefined, {
  message: 'not an address; write e.g. 10.96.0.10 or 10.96.0.10:5353',
});

export const dnsSchema = z.strictObject({
  enabled: z.boolean(),
  listen: z.array(listenAddress).min(1),
  allowRemote: z.boolean(),
  upstreams: z.array(dnsServer),
  hosts: z.array(z.strictObject({ name: domainName, addresses: z.array(ip).min(1) })),
  forward: z.array(z.strictObject({ domain: domainName, servers: z.array(dnsServer).min(1) })),
  serviceEntries: z.strictObject({ paths: z.array(z.string()), autoAllocate: cidr }),
  ttl: z.number().int().min(0).max(86_400),
  cache: z.strictObject({
    size: z.number().int().min(0),
    maxTTL: z.number().int().min(0),
    negativeTTL: z.number().int().min(0),
  }),
});

export function dnsDefaults(): z.input<typeof dnsSchema> {
  return {
    enabled: false,
    listen: ['127.0.0.1:53'],
    allowRemote: false,
    upstreams: [],
    hosts: [],
    forward: [],
    serviceEntries: { paths: [], autoAllocate: '240.240.0.0/16' },
    ttl: 30,
    cache: { size: 10000, maxTTL: 3600, negativeTTL: 30 },
  };
}

/** A DNS listener on a non-loopback address is an open resolver (an amplification weapon): only with an explicit opt-in. */
export function checkDns(dns: { listen: readonly string[]; allowRemote: boolean }): CheckIssue[] {
  const issues: CheckIssue[] = [];
  dns.listen.forEach((listen, index) => {
    const hp = parseHostPort(listen);
    if (hp !== undefined && !isLoopback(hp.host) && !dns.allowRemote) {
      issues.push({ path: ['dns', 'listen', index], message: 'not a loopback address; set dns.allowRemote: true to serve other hosts' });
    }
  });
  return issues;
}
