/** `run`: the daemon. Wires signals to reload/stop and keeps one controller's crash from killing it. */
import { Agent } from '../agent/agent.js';
import { joinAgentGroup, type JoinResult } from '../agent/agent-group.js';
import { DEFAULT_CONFIG_PATH, loadConfig, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CONTROLLER_MODULES } from '../controllers.js';
import { ConfigError, formatIssue } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { parseCommandArgs } from './args.js';
import { RUN_HELP } from './help.js';

/** SIGTERM must end the process well inside systemd's stop timeout (and within 5 s). */
const STOP_DEADLINE_MS = 4500;

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { config: { type: 'string' }, 'cleanup-only': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'run');
  if (args.help === true) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const mustExist = args.config !== undefined;
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig({ path: args.config ?? DEFAULT_CONFIG_PATH, mustExist });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    process.stderr.write('mesh-node-agent: not started; fix the config (check it with "mesh-node-agent check-config")\n');
    return 1;
  }
  const log = createLogger({ level: loaded.config.log.level });
  for (const warning of loaded.warnings) log.warn(warning);

  if (args['cleanup-only'] === true) {
    let failed = false;
    for (const module of CONTROLLER_MODULES) {
      if (module.cleanup === undefined) continue;
      try {
        await module.cleanup(loaded.config, log.child({ controller: module.name }));
      } catch (err) {
        failed = true;
        log.error({ err, controller: module.name }, 'cleanup failed');
      }
    }
    log.flush();
    return failed ? 1 : 0;
  }

  // Before any socket exists: sockets keep the groups they were created with (capture's bypass).
  const joined = await joinAgentGroup(loaded.config.capture.agentGroup);
  logJoin(joined, loaded.config, log);

  const agent = new Agent({ loaded, modules: CONTROLLER_MODULES, log, configMustExist: mustExist });
  // Installed before start so an early signal is not Node's default (terminate).
  let stopping: Promise<number> | undefined;
  const stop = (signal: string): Promise<number> => {
    stopping ??= (async () => {
      log.info({ signal }, 'signal received, stopping');
      const deadline = new Promise<number>((resolve) => setTimeout(() => resolve(1), STOP_DEADLINE_MS).unref());
      return Promise.race([agent.stop().then(() => 0), deadline]);
    })();
    return stopping;
  };
  const done = new Promise<number>((resolve) => {
    process.on('SIGTERM', () => void stop('SIGTERM').then(resolve));
    process.on('SIGINT', () => void stop('SIGINT').then(resolve));
  });
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading config');
    void agent.reload();
  });
  process.on('uncaughtException', (err) => agent.recordUnhandled(err));
  process.on('unhandledRejection', (reason) => agent.recordUnhandled(reason));

  try {
    await agent.start();
  } catch (err) {
    log.error({ err }, 'agent failed to start');
    await agent.stop().catch(() => undefined);
    log.flush();
    return 1;
  }
  const code = await done;
  log.info({ code }, 'stopped');
  log.flush();
  return code;
}

function logJoin(joined: JoinResult, config: Config, log: Logger): void {
  const group = config.capture.agentGroup;
  if (joined.state === 'joined') log.info({ group, gid: joined.gid }, 'joined the capture bypass group');
  else if (joined.state === 'member') log.debug({ group, gid: joined.gid }, 'already in the capture bypass group');
  else if (!config.capture.enabled) log.debug({ group, joined }, 'not in the capture bypass group (capture is off)');
  else if (joined.state === 'unknown') log.warn({ group }, `capture.agentGroup "${group}" does not exist: capture stays not ready; create it (addgroup --system ${group}) and restart`);
  else if (joined.state === 'failed') log.warn({ group, gid: joined.gid, error: joined.error }, 'could not join the capture bypass group: capture stays not ready');
}
