/**
 * The mesh name table from ServiceEntry manifests (kubectl-style multi-document YAML): every
 * `spec.hosts` name answers with the entry's `spec.addresses` (plain IPs, /32 and /128 CIDRs;
 * wider CIDRs cannot be a DNS answer and are skipped, as Istio's name table does). Entries for the
 * same host merge their addresses. Hosts without any address get a stable VIP (vip.ts); wildcard
 * hosts without addresses get none (there is no single address to give). Pure.
 */
import { isIP } from 'node:net';
import { parseAllDocuments } from 'yaml';
import { parseCidr } from '../net/cidr.js';
import { DomainTable, normalizeName } from './names.js';
import { buildRecordSet, type RecordSet } from './records.js';
import { allocateVips } from './vip.js';

export interface ManifestFile {
  file: string;
  text: string;
}

export interface ManifestProblem {
  file: string;
  reason: string;
}

export interface MeshHost {
  host: string;
  addresses: string[];
  allocated: boolean;
}

export interface MeshBuild {
  table: MeshTable;
  problems: ManifestProblem[];
}

const HOST_RE = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

export class MeshTable {
  private constructor(
    private readonly exact: ReadonlyMap<string, RecordSet>,
    /** `*.suffix` entries by suffix: they cover subdomains only, never the apex. */
    private readonly wildcards: DomainTable<RecordSet>,
    readonly hosts: readonly MeshHost[],
  ) {}

  static empty(): MeshTable {
    return new MeshTable(new Map(), new DomainTable(), []);
  }

  static fromHosts(hosts: readonly MeshHost[], ttl: number): MeshTable {
    const exact = new Map<string, RecordSet>();
    const wildcards = new Map<string, RecordSet>();
    for (const h of hosts) {
      const set = buildRecordSet(h.addresses, ttl);
      if (h.host.startsWith('*.')) wildcards.set(h.host.slice(2), set);
      else exact.set(h.host, set);
    }
    return new MeshTable(exact, new DomainTable(wildcards), hosts);
  }

  lookup(name: string): RecordSet | undefined {
    // Exact names first, then the most specific wildcard strictly above the name.
    return this.exact.get(name) ?? this.wildcards.matchAbove(name);
  }

  get size(): number {
    return this.hosts.length;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** ServiceEntry objects of one document (a `kind: List` carries them in `items`). */
function serviceEntries(doc: unknown): Record<string, unknown>[] {
  if (!isRecord(doc)) return [];
  if (doc.kind === 'List' && Array.isArray(doc.items)) return doc.items.flatMap(serviceEntries);
  return doc.kind === 'ServiceEntry' ? [doc] : [];
}

/** One ServiceEntry read: its valid hosts and addresses, and what is wrong with it. */
export interface ParsedEntry {
  hosts: string[];
  addresses: string[];
  problems: string[];
}

/**
 * Reads one ServiceEntry (from a manifest or the API): `spec.hosts` (DNS names, `*.` wildcards),
 * `spec.addresses` (IPs; /32 and /128 CIDRs as their address; wider CIDRs skipped). `label`
 * prefixes each problem. Pure.
 */
export function readServiceEntry(entry: Record<string, unknown>, label: string): ParsedEntry {
  const out: ParsedEntry = { hosts: [], addresses: [], problems: [] };
  const spec = entry.spec;
  if (!isRecord(spec) || !Array.isArray(spec.hosts) || spec.hosts.length === 0) {
    out.problems.push(`${label}: spec.hosts must be a non-empty list`);
    return out;
  }
  for (const host of spec.hosts) {
    const name = typeof host === 'string' ? normalizeName(host) : '';
    if (!HOST_RE.test(name)) {
      out.problems.push(`${label}: host ${JSON.stringify(host)} is not a DNS name (write e.g. httpbin.bar.global or *.example.com)`);
      continue;
    }
    out.hosts.push(name);
  }
  const rawAddresses: unknown = spec.addresses ?? [];
  if (!Array.isArray(rawAddresses)) {
    out.problems.push(`${label}: spec.addresses must be a list`);
    out.hosts = [];
    return out;
  }
  for (const address of rawAddresses) {
    if (typeof address === 'string' && isIP(address) !== 0) {
      out.addresses.push(address);
      continue;
    }
    const cidr = typeof address === 'string' ? parseCidr(address) : undefined;
    if (cidr === undefined) {
      out.problems.push(`${label}: address ${JSON.stringify(address)} is not an IP or CIDR`);
    } else if (cidr.prefix === (cidr.family === 4 ? 32 : 128)) {
      out.addresses.push(cidr.address);
    }
  }
  return out;
}

function addHosts(entry: { hosts: readonly string[]; addresses: readonly string[] }, into: Map<string, Set<string>>): void {
  for (const host of entry.hosts) {
    const set = into.get(host) ?? new Set<string>();
    for (const a of entry.addresses) set.add(a);
    into.set(host, set);
  }
}

/** Reads one file's entries into `into` (host → addresses); returns the problems found. */
function readFile(file: ManifestFile, into: Map<string, Set<string>>): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const docs = parseAllDocuments(file.text);
  if (!Array.isArray(docs)) return [{ file: file.file, reason: 'not a YAML document stream' }];
  const found = new Map<string, Set<string>>();
  docs.forEach((doc, index) => {
    const where = docs.length > 1 ? `document ${index + 1}: ` : '';
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      const line = err.linePos?.[0]?.line;
      problems.push({ file: file.file, reason: `${where}${line === undefined ? '' : `line ${line}: `}${err.message.split('\n')[0] ?? 'YAML error'}` });
      return;
    }
    for (const entry of serviceEntries(doc.toJS())) {
      const meta = isRecord(entry.metadata) ? entry.metadata : {};
      const parsed = readServiceEntry(entry, `${where}ServiceEntry ${typeof meta.name === 'string' ? `"${meta.name}"` : '(unnamed)'}`);
      for (const reason of parsed.problems) problems.push({ file: file.file, reason });
      addHosts(parsed, found);
    }
  });
  for (const [host, set] of found) {
    const merged = into.get(host) ?? new Set<string>();
    for (const a of set) merged.add(a);
    into.set(host, merged);
  }
  return problems;
}

/**
 * Builds the table from all files, plus entries already read and checked elsewhere (from the API),
 * with one VIP allocation over all of them; any file problem is reported with its file and reason.
 */
export function buildMeshTable(files: readonly ManifestFile[], autoAllocate: string, ttl: number, extra: readonly { hosts: readonly string[]; addresses: readonly string[] }[] = []): MeshBuild {
  const byHost = new Map<string, Set<string>>();
  const problems = files.flatMap((file) => readFile(file, byHost));
  for (const entry of extra) addHosts(entry, byHost);
  const reserved = new Set<string>();
  for (const set of byHost.values()) for (const a of set) reserved.add(a);
  const needVip = [...byHost].filter(([host, set]) => set.size === 0 && !host.startsWith('*.')).map(([host]) => host);
  const { vips, failed } = allocateVips(needVip, autoAllocate, reserved);
  for (const f of failed) problems.push({ file: '(autoAllocate)', reason: `${f.host}: ${f.reason}` });
  const hosts: MeshHost[] = [];
  for (const [host, set] of [...byHost].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const vip = vips.get(host);
    if (set.size > 0) hosts.push({ host, addresses: [...set], allocated: false });
    else if (vip !== undefined) hosts.push({ host, addresses: [vip], allocated: true });
  }
  return { table: MeshTable.fromHosts(hosts, ttl), problems };
}
