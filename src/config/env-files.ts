/**
 * Reads Istio's env files with the trust rule: a file only root can write is read as before (its
 * problems are config errors). A file someone else can write (cluster.env is istio-proxy's on a
 * VM set up by Istio's guide) is still read for the values that only name this workload, but the
 * values that steer trust (TRUST_STEERING_KEYS) are ignored, with one warning naming the file, and
 * its problems are warnings: a file the proxy can write must not stop the agent either. A link,
 * a special file or a hard-linked file is not read at all: it could show the agent another file.
 */
import { ConfigError, ErrorCode, errorMessage, formatIssue, type ConfigIssue } from '../errors.js';
import { writableByOthers } from '../safe-file/policy.js';
import { readNoFollow, type NoFollowRead } from '../safe-file/read.js';
import { parseEnvText, type EnvEntry } from './env-file.js';
import { TRUST_STEERING_KEYS } from './istio-env.js';

/** Istio's files are a few hundred bytes. */
const MAX_ENV_BYTES = 1 << 20;

export interface EnvFiles {
  /** Later files' entries over earlier ones. */
  env: Map<string, EnvEntry>;
  /** Problems in files only root can write: the config is invalid. */
  issues: ConfigIssue[];
  warnings: string[];
  /** Files read. */
  loaded: string[];
  /** Files read under the untrusted rule: a problem traced to one of them is a warning. */
  untrusted: Set<string>;
}

/** Pure: which entries of an untrusted file are kept, and the warning naming the file. */
export function applyTrustRule(file: string, problem: string, entries: ReadonlyMap<string, EnvEntry>): { kept: EnvEntry[]; warning: string } {
  const kept: EnvEntry[] = [];
  const ignored: string[] = [];
  for (const entry of entries.values()) {
    if (TRUST_STEERING_KEYS.has(entry.key)) ignored.push(`${entry.key} (line ${entry.line})`);
    else kept.push(entry);
  }
  const what = ignored.length === 0 ? 'it sets none of the variables that steer trust (they would be ignored)' : `ignored ${ignored.join(', ')}`;
  const warning =
    `${file} is ${problem}: ${what}; the CA address, capture and proxy-user variables are read only from files only root can write, ` +
    `the rest of it is read. Fix: chown root:root ${file} && chmod go-w ${file}, or set these values in config.yaml`;
  return { kept, warning };
}

export async function loadEnvFiles(files: readonly string[], euid = process.geteuid?.() ?? 0): Promise<EnvFiles> {
  const out: EnvFiles = { env: new Map(), issues: [], warnings: [], loaded: [], untrusted: new Set() };
  for (const file of files) {
    let read: NoFollowRead;
    try {
      read = await readNoFollow(file, MAX_ENV_BYTES);
    } catch (err) {
      const message = `cannot read (${errorMessage(err)}); make it readable by root or point istio.clusterEnv / istio.sidecarEnv elsewhere`;
      throw new ConfigError([{ file, line: 0, col: 0, key: '', message }], ErrorCode.ConfigUnreadable);
    }
    if (read.kind === 'absent') continue;
    if (read.kind === 'refused' || read.facts.nlink > 1) {
      const why = read.kind === 'refused' ? read.reason : `has ${read.facts.nlink} hard links`;
      out.warnings.push(`${file} ${why}: not read (env files are read only as plain files). Fix: point istio.clusterEnv / istio.sidecarEnv at the file itself`);
      continue;
    }
    out.loaded.push(file);
    const parsed = parseEnvText(read.text, file);
    const problem = writableByOthers(read.facts, euid);
    if (problem === undefined) {
      out.issues.push(...parsed.issues);
      for (const entry of parsed.entries.values()) out.env.set(entry.key, entry);
      continue;
    }
    out.untrusted.add(file);
    const { kept, warning } = applyTrustRule(file, problem, parsed.entries);
    out.warnings.push(warning, ...parsed.issues.map((issue) => `${formatIssue(issue)}; line ignored`));
    for (const entry of kept) out.env.set(entry.key, entry);
  }
  return out;
}
