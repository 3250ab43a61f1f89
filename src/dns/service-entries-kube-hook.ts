/**
 * Starts ServiceEntries from the API for the dns controller, loading the API client only when
 * dns.serviceEntries.kubernetes is on: this file imports nothing of it statically.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';

export interface KubeEntriesHandle {
  current(): readonly { hosts: readonly string[]; addresses: readonly string[] }[];
  status(): Record<string, unknown>;
  /** Why the API's entries are not (all) in use, or undefined. */
  problem(): string | undefined;
  stop(): void;
}

/** How long the dns controller's start waits for the first list (it never fails on the API). */
const FIRST_LIST_MS = 5000;

export async function startKubeServiceEntries(config: Config, log: Logger, onChange: () => void): Promise<KubeEntriesHandle> {
  const [{ createKubeClient }, { KubeServiceEntrySource }] = await Promise.all([import('../kube/connect.js'), import('./service-entries-kube.js')]);
  const client = await createKubeClient(config.kubernetes);
  const source = new KubeServiceEntrySource({ client, namespaces: config.dns.serviceEntries.namespaces, log: log.child({ component: 'kube-serviceentries' }), onChange });
  await source.start(FIRST_LIST_MS);
  return {
    current: () => source.current(),
    status: () => source.status(),
    problem: () => source.problem(),
    stop: () => {
      source.stop();
      client.close();
    },
  };
}
