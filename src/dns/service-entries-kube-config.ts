/**
 * `dns.serviceEntries.kubernetes` / `namespaces`: ServiceEntries read from the cluster (through the
 * top-level `kubernetes:` connection) beside the manifest files. Hooked into the DNS schema with
 * one spread, into the defaults with another.
 */
import { z } from 'zod';
import { key } from '../config/schema-types.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const serviceEntriesKubeShape = {
  kubernetes: key(z.boolean(), {
    description: 'Also answer the hosts of `networking.istio.io` ServiceEntries read from the Kubernetes API (the `kubernetes:` connection), followed by list + watch.',
    example: true,
  }),
  namespaces: key(z.array(z.string().refine((v) => v.length <= 63 && DNS_LABEL.test(v), { message: 'not a namespace name, e.g. istio-system' })), {
    description: 'With `kubernetes: true`, only ServiceEntries in these namespaces; empty: all namespaces.',
    example: ['istio-system', 'default'],
  }),
};

export function serviceEntriesKubeDefaults(): { kubernetes: boolean; namespaces: string[] } {
  return { kubernetes: false, namespaces: [] };
}

interface Shape {
  kubernetes: { kubeconfig: string; server: string };
  dns: { enabled: boolean; serviceEntries: { kubernetes: boolean; namespaces: readonly string[] } };
}

/** ServiceEntries from the API need the API. */
export function checkServiceEntriesKube(cfg: Shape): { path: (string | number)[]; message: string }[] {
  const se = cfg.dns.serviceEntries;
  if (!se.kubernetes) {
    return se.namespaces.length > 0 ? [{ path: ['dns', 'serviceEntries', 'namespaces'], message: 'only read with dns.serviceEntries.kubernetes: true; set it, or remove namespaces' }] : [];
  }
  if (cfg.kubernetes.kubeconfig === '' && cfg.kubernetes.server === '') {
    return [{ path: ['dns', 'serviceEntries', 'kubernetes'], message: 'ServiceEntries from the API need the API: set kubernetes.kubeconfig, or kubernetes.server with caFile and tokenFile' }];
  }
  return [];
}
