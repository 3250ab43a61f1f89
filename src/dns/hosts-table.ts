/** `dns.hosts`: dnsmasq `address=/name/ip` — the name and all its subdomains, A and AAAA. Pure. */
import type { DnsConfig } from '../config/schema.js';
import { DomainTable, normalizeName } from './names.js';
import { buildRecordSet, type RecordSet } from './records.js';

export class HostsTable {
  private constructor(private readonly names: DomainTable<RecordSet>) {}

  static build(hosts: DnsConfig['hosts'], ttl: number): HostsTable {
    // The same name listed twice merges its addresses, as repeated address= lines do.
    const merged = new Map<string, string[]>();
    for (const entry of hosts) {
      const name = normalizeName(entry.name);
      merged.set(name, [...(merged.get(name) ?? []), ...entry.addresses]);
    }
    return new HostsTable(new DomainTable(new Map([...merged].map(([name, addresses]) => [name, buildRecordSet(addresses, ttl)]))));
  }

  lookup(name: string): RecordSet | undefined {
    return this.names.matchSubtree(name);
  }

  get size(): number {
    return this.names.size;
  }
}
