/** The permissions ServiceEntries from the API need: list and watch, cluster-wide or per namespace (pure). */
import type { AccessCheck } from '../kube/access-review.js';

export function serviceEntryAccessChecks(namespaces: readonly string[]): AccessCheck[] {
  const where: (string | undefined)[] = namespaces.length === 0 ? [undefined] : [...namespaces];
  return where.flatMap((namespace) => ['list', 'watch'].map((verb) => ({ verb, group: 'networking.istio.io', resource: 'serviceentries', ...(namespace === undefined ? {} : { namespace }) })));
}
