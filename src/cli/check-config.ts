/** `check-config`: validate like `run` would and show the effective config with each value's source. */
import { Document, isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import { DEFAULT_CONFIG_PATH, loadConfig, type LoadedConfig } from '../config/load.js';
import { ConfigError, formatIssue } from '../errors.js';
import { parseCommandArgs } from './args.js';
import { CHECK_CONFIG_HELP } from './help.js';

export async function checkConfigCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { config: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'check-config');
  if (args.help === true) {
    process.stdout.write(CHECK_CONFIG_HELP);
    return 0;
  }
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig({ path: args.config ?? DEFAULT_CONFIG_PATH, mustExist: args.config !== undefined });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    process.stderr.write(`config invalid: ${err.issues.length} problem(s)\n`);
    return 1;
  }
  if (args.json === true) {
    process.stdout.write(`${JSON.stringify({ config: loaded.raw, sources: Object.fromEntries(loaded.sources), warnings: loaded.warnings }, null, 2)}\n`);
  } else {
    process.stdout.write(renderWithSources(loaded));
  }
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (loaded.config.overlay.kubernetes.enabled || loaded.config.dns.serviceEntries.kubernetes) {
    // Only then: the API client is loaded and the API server asked.
    const access = await (await import('./check-kube-access.js')).checkKubeAccess(loaded.config);
    for (const warning of access.warnings) process.stderr.write(`warning: ${warning}\n`);
    for (const error of access.errors) process.stderr.write(`${error}\n`);
    if (access.errors.length > 0) {
      process.stderr.write(`config valid, but the Kubernetes API cannot be used as configured: ${access.errors.length} problem(s)\n`);
      return 1;
    }
    if (access.summary !== undefined) process.stderr.write(`${access.summary}\n`);
  }
  process.stderr.write(`config OK (${loaded.path}${loaded.envFiles.length > 0 ? ` + ${loaded.envFiles.join(', ')}` : ''})\n`);
  return 0;
}

/** The merged config as YAML, each leaf followed by `# <source>`. */
export function renderWithSources(loaded: LoadedConfig): string {
  const doc = new Document(loaded.raw);
  const annotate = (node: Node | null | undefined, path: string[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const here = [...path, String(pair.key.value)];
        const value = pair.value as Node | null;
        const source = loaded.sources.get(here.join('.'));
        if (source !== undefined && (isScalar(value) || isSeq(value) || (isMap(value) && value.items.length === 0))) {
          if (isSeq(value)) value.flow = value.items.every(isScalar);
          if (value !== null) value.comment = ` ${source}`;
        } else {
          annotate(value, here);
        }
      }
    }
  };
  annotate(doc.contents, []);
  return doc.toString({ lineWidth: 0 });
}
