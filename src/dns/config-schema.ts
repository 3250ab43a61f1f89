/**
 * The `dns:` section: its schema, built-in defaults and cross-field check (composed in
 * config/schema.ts).
 */
import { z } from 'zod';
import type { CheckIssue } from '../config/check-issue.js';
import { cidr, domainName, ip, key } from '../config/schema-types.js';
import { isLoopback } from '../net/address.js';
import { parseHostPort, parseIpPort } from '../net/host-port.js';
import { serviceEntriesKubeDefaults, serviceEntriesKubeShape } from './service-entries-kube-config.js';

// Listener and server addresses end up in capture rules and socket calls: addresses, never names.
const listenAddress = z.string().refine((v) => parseIpPort(v) !== undefined, {
  message: 'not IP:PORT; write e.g. 127.0.0.1:53 or [::1]:53 (an address: it is written into the capture rules)',
});
const dnsServer = z.string().refine((v) => parseIpPort(v, 53) !== undefined, {
  message: 'not an address; write e.g. 10.96.0.10 or 10.96.0.10:5353',
});

export const dnsSchema = z.strictObject({
  enabled: key(z.boolean(), { description: 'Run the DNS proxy: static names, ServiceEntry names with VIPs, per-domain forwarding and a cache.', example: true }),
  listen: key(z.array(listenAddress).min(1), {
    description: 'Addresses to serve on (one UDP socket and one TCP server each); IP literals, as they are written into capture rules. A non-loopback address needs `dns.allowRemote`.',
    example: ['127.0.0.1:53', '[::1]:53'],
    type: 'list of IP:PORT (IPv6 in brackets), at least one',
  }),
  allowRemote: key(z.boolean(), { description: 'Allow non-loopback `listen` addresses (an open resolver can be abused for amplification).', example: false }),
  upstreams: key(z.array(dnsServer), {
    description: 'Servers for names no other rule answers; empty: the nameservers of `${stateDir}/resolv.conf`, a copy of /etc/resolv.conf taken on first start.',
    example: ['10.0.0.2', '10.0.0.3:5353'],
    type: 'list of IP or IP:PORT',
  }),
  hosts: key(z.array(z.strictObject({ name: key(domainName, { description: 'The name; it and all its subdomains are answered.', example: 'istio-pilot' }), addresses: key(z.array(ip).min(1), { description: 'The addresses answered (A and AAAA).', example: ['192.168.0.62'] }) })), {
    description: "Static answers, like dnsmasq's `address=/name/ip`: each `{ name, addresses }`.",
    example: [{ name: 'istio-pilot', addresses: ['192.168.0.62'] }],
  }),
  forward: key(
    z.array(
      z.strictObject({
        domain: key(domainName, { description: 'The domain; it and all its subdomains are forwarded.', example: 'svc.cluster.local' }),
        servers: key(z.array(dnsServer).min(1), { description: 'The servers, tried healthy-first in this order.', example: ['10.96.0.10'], type: 'list of IP or IP:PORT, at least one' }),
      }),
    ),
    {
      description: "Per-domain forwarding, like dnsmasq's `server=/domain/ip`: each `{ domain, servers }`.",
      example: [{ domain: 'svc.cluster.local', servers: ['10.96.0.10'] }],
    },
  ),
  serviceEntries: z.strictObject({
    paths: key(z.array(z.string()), { description: 'Files or directories (`*.yaml`, `*.yml`, `*.json`) of Istio ServiceEntry manifests whose hosts are answered; watched and reloaded.', example: ['/etc/mesh-node-agent/service-entries'] }),
    autoAllocate: key(cidr, { description: 'The IPv4 range VIPs are allocated from for ServiceEntries without addresses.', example: '240.240.0.0/16' }),
    ...serviceEntriesKubeShape,
  }),
  ttl: key(z.number().int().min(0).max(86_400), { description: 'TTL (seconds) of the answers the agent makes itself (hosts, ServiceEntries).', example: 60 }),
  cache: z.strictObject({
    size: key(z.number().int().min(0), { description: 'Cached answers at most; `0` turns the cache off.', example: 20000 }),
    maxTTL: key(z.number().int().min(0), { description: 'Upper bound (seconds) on how long an upstream answer is cached.', example: 600 }),
    negativeTTL: key(z.number().int().min(0), { description: 'Upper bound (seconds) on how long a negative answer (NXDOMAIN, no data) is cached.', example: 10 }),
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
    serviceEntries: { paths: [], autoAllocate: '240.240.0.0/16', ...serviceEntriesKubeDefaults() },
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
