/** The capture boundary of a real host: iptables-restore/-save, /etc files, wall time. */
import { systemClock } from '../agent/clock.js';
import type { CaptureBoundary, CaptureHost } from './boundary.js';
import { detectBinaries, directExec, Iptables, type Exec } from './iptables.js';
import { lookupAgentGid, lookupProxyOwner } from './owner.js';
import { readNameservers } from './resolv-conf.js';

export const systemCaptureHost: CaptureHost = {
  proxyOwner: (user) => lookupProxyOwner(user),
  agentGid: (group) => lookupAgentGid(group),
  nameservers: (stateDir) => readNameservers(stateDir),
};

/** `exec` runs the iptables binaries (benchmarks and tests aim it into a namespace). */
export function systemCaptureBoundary(exec: Exec = directExec): CaptureBoundary {
  return {
    openTables: async () => new Iptables(await detectBinaries(exec), exec),
    host: systemCaptureHost,
    clock: systemClock,
  };
}
