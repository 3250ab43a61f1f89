/**
 * One build of the capture rules: the host facts read through the boundary (proxy user, the
 * agent's group, resolv.conf), then the pure input mapping and rule builder. Nothing is applied.
 */
import type { Config } from '../config/schema.js';
import type { CaptureHost } from './boundary.js';
import { captureInput, type InputNotes } from './input.js';
import type { Owner } from '../host/owner.js';
import { buildRules, type Family, type RuleSet } from './rules.js';

export interface Built {
  rules: RuleSet;
  owner: Owner;
  agentGid: number;
  nameservers: string[];
  resolvConf: string;
  notes: InputNotes;
}

export async function buildCapture(config: Config, host: CaptureHost): Promise<Built> {
  const owner = await host.proxyOwner(config.capture.proxyUser);
  const resolv = config.capture.dns ? await host.nameservers(config.stateDir) : { file: '', nameservers: [] };
  const agentGid = await host.agentGid(config.capture.agentGroup);
  const { input, notes } = captureInput(config, { owner, agentGid, nameservers: resolv.nameservers });
  return { rules: buildRules(input), owner, agentGid, nameservers: input.dns?.nameservers.slice() ?? [], resolvConf: resolv.file, notes };
}

export function ruleCount(rules: RuleSet, family: Family): number {
  return rules[family].reduce((n, t) => n + t.rules.length, 0);
}
