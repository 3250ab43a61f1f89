/**
 * check-config's Kubernetes part: with overlay.kubernetes or dns.serviceEntries.kubernetes on, the
 * connection is resolved (the kubeconfig and the files it names are read and checked) and the API
 * server is asked which of the needed permissions this identity lacks. Loaded only then.
 */
import type { Config } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { deniedAccess, describeAccess, type AccessCheck } from '../kube/access-review.js';
import { createKubeClient } from '../kube/connect.js';
import { serviceEntryAccessChecks } from '../dns/service-entries-kube-access.js';
import { configMapAccessChecks, leaveAccessCheck, registryAccessChecks } from '../registry/kube/access.js';
import { resolveNodeName } from '../registry/kube/registry.js';

export interface AccessReport {
  /** What stops the agent from working: each missing permission, or why the API cannot be used. */
  errors: string[];
  warnings: string[];
  /** e.g. "kubernetes: https://10.0.0.10:6443 as <kubeconfig user>: all 9 permissions granted". */
  summary?: string;
}


export async function checkKubeAccess(config: Config): Promise<AccessReport> {
  const report: AccessReport = { errors: [], warnings: [] };
  let client;
  try {
    client = await createKubeClient(config.kubernetes);
  } catch (err) {
    report.errors.push(errorMessage(err));
    return report;
  }
  try {
    const required: AccessCheck[] = [];
    const k = config.overlay.kubernetes;
    const nodeName = k.enabled ? resolveNodeName(k.nodeName) : '';
    const oneOf = k.enabled ? configMapAccessChecks(k) : [];
    if (k.enabled) required.push(...registryAccessChecks(nodeName));
    if (config.dns.serviceEntries.kubernetes) required.push(...serviceEntryAccessChecks(config.dns.serviceEntries.namespaces));
    const leave = k.enabled ? [leaveAccessCheck(nodeName)] : [];
    let denied;
    try {
      denied = await deniedAccess(client, [...required, ...oneOf, ...leave]);
    } catch (err) {
      report.warnings.push(`kubernetes: cannot ask ${client.server} which permissions are granted: ${errorMessage(err)}`);
      return report;
    }
    const isDenied = (c: AccessCheck): boolean => denied.some((d) => d.verb === c.verb && d.resource === c.resource && d.namespace === c.namespace && d.name === c.name && d.group === c.group);
    for (const c of required) if (isDenied(c)) report.errors.push(`kubernetes: missing permission: ${describeAccess(c)}`);
    if (oneOf.length > 0 && oneOf.every(isDenied)) report.errors.push(`kubernetes: missing permission: ${oneOf.map(describeAccess).join(', or ')} (flannel's net-conf.json)`);
    for (const c of leave) if (isDenied(c)) report.warnings.push(`kubernetes: no permission to ${describeAccess(c)}: "mesh-node-agent leave" will fail; an administrator can delete the Node instead`);
    if (report.errors.length === 0) report.summary = `kubernetes: ${client.server} (${client.description}): the needed permissions are granted`;
    return report;
  } finally {
    client.close();
  }
}
