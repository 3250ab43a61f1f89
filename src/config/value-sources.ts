/**
 * Where each value of the effective config came from: "default", an env file line
 * ("/var/lib/istio/envoy/cluster.env:3 (CA_ADDR)") or a YAML position ("config.yaml:9:8"). A YAML
 * position is looked up when it is first read (check-config, an error, a warning), so a config
 * read by the fast path is parsed with positions only then.
 */
import { locate, type YamlSource } from './yaml-source.js';

interface FromYaml {
  path: readonly string[];
}

export class ValueSources implements Iterable<[string, string]> {
  private readonly labels = new Map<string, string | FromYaml>();

  constructor(private readonly yaml?: () => YamlSource) {}

  set(key: string, label: string): void {
    this.labels.set(key, label);
  }

  /** A value the YAML file set, at `path`. */
  setYaml(path: readonly string[]): void {
    this.labels.set(path.join('.'), { path });
  }

  /** The label, with a YAML value's file:line:col. */
  get(key: string): string | undefined {
    const label = this.labels.get(key);
    if (typeof label !== 'object') return label;
    const resolved = this.position(label.path);
    this.labels.set(key, resolved);
    return resolved;
  }

  /** The label without looking up a position: "yaml" for a value the YAML file set. */
  origin(key: string): string | undefined {
    const label = this.labels.get(key);
    return typeof label === 'object' ? 'yaml' : label;
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    for (const key of this.labels.keys()) yield [key, this.get(key) ?? ''];
  }

  private position(path: readonly string[]): string {
    if (this.yaml === undefined) return 'yaml';
    const source = this.yaml();
    const pos = locate(source, path);
    return `${source.file}:${pos?.line ?? 1}:${pos?.col ?? 1}`;
  }
}
