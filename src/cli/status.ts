/** `status`: ask the running agent and render /status for a person (or raw JSON). */
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/load.js';
import { DEFAULT_STATUS_PORT } from '../status/config-schema.js';
import { formatHostPort, parseHostPort, type HostPort } from '../net/host-port.js';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { parseCommandArgs } from './args.js';
import { STATUS_HELP } from './help.js';

export const EXIT_READY = 0;
export const EXIT_NOT_READY = 1;
export const EXIT_UNREACHABLE = 2;

export async function statusCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    argv,
    { addr: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    'status',
  );
  if (args.help === true) {
    process.stdout.write(STATUS_HELP);
    return 0;
  }
  const addr = await resolveAddr(args.addr, args.config);
  const timeoutMs = args.timeout === undefined ? 3000 : Number(args.timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new AgentError(ErrorCode.UsageInvalid, `status: --timeout "${args.timeout}" is not a number of milliseconds`);
  let body: Record<string, unknown>;
  try {
    const res = await fetch(`http://${formatHostPort(addr)}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new AgentError(ErrorCode.StatusUnreachable, `HTTP ${res.status}`);
    body = (await res.json()) as Record<string, unknown>;
  } catch (err) {
    process.stderr.write(`mesh-node-agent is unreachable at ${formatHostPort(addr)}: ${errorMessage(err)}\nIs it running? Try: systemctl status mesh-node-agent\n`);
    return EXIT_UNREACHABLE;
  }
  process.stdout.write(args.json === true ? `${JSON.stringify(body, null, 2)}\n` : renderStatus(body));
  return body.ready === true ? EXIT_READY : EXIT_NOT_READY;
}

async function resolveAddr(addr: string | undefined, configPath: string | undefined): Promise<HostPort> {
  if (addr !== undefined) {
    const parsed = parseHostPort(addr, DEFAULT_STATUS_PORT);
    if (parsed === undefined) throw new AgentError(ErrorCode.UsageInvalid, `status: --addr "${addr}" is not HOST:PORT (e.g. 127.0.0.1:15030)`);
    return parsed;
  }
  try {
    const loaded = await loadConfig({ path: configPath ?? DEFAULT_CONFIG_PATH, mustExist: configPath !== undefined });
    const parsed = parseHostPort(loaded.config.status.listen);
    if (parsed !== undefined) return parsed;
  } catch (err) {
    if (configPath !== undefined) throw err;
  }
  return { host: '127.0.0.1', port: DEFAULT_STATUS_PORT };
}

/** A compact, human summary: a header, a controller table, then each controller's details. */
export function renderStatus(body: Record<string, unknown>): string {
  const lines: string[] = [];
  const config = (body.config ?? {}) as Record<string, unknown>;
  lines.push(`mesh-node-agent ${String(body.version)}  pid ${String(body.pid)}  up ${formatUptime(Number(body.uptimeSeconds))}  ${body.ready === true ? 'READY' : 'NOT READY'}`);
  lines.push(`config ${String(config.path)} (generation ${String(config.generation)})`);
  const lastReload = config.lastReload as { ok?: boolean; at?: string; error?: string } | undefined;
  if (lastReload !== undefined) lines.push(`last reload ${lastReload.ok === true ? 'applied' : 'REJECTED'} at ${lastReload.at ?? '?'}${lastReload.error === undefined ? '' : `: ${lastReload.error}`}`);
  lines.push('');
  const controllers = (body.controllers ?? {}) as Record<string, ControllerStatus>;
  const rows: string[][] = [['CONTROLLER', 'STATE', 'READY', 'NOTE']];
  for (const [name, c] of Object.entries(controllers)) {
    rows.push([name, c.state ?? '-', c.enabled === true ? (c.ready === true ? 'yes' : 'no') : '-', c.reason ?? c.lastError?.message ?? '']);
  }
  lines.push(...table(rows));
  const skip = new Set(['enabled', 'state', 'ready', 'reason']);
  for (const [name, c] of Object.entries(controllers)) {
    if (c.enabled !== true) continue;
    const details = Object.entries(c).filter(([k]) => !skip.has(k));
    if (details.length === 0) continue;
    lines.push('', `${name}:`);
    for (const [key, value] of details) lines.push(`  ${key}: ${formatValue(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

interface ControllerStatus {
  enabled?: boolean;
  state?: string;
  ready?: boolean;
  reason?: string;
  lastError?: { message?: string };
  [key: string]: unknown;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

function formatValue(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function formatUptime(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}
