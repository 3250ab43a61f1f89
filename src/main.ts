/** Entry point: dispatches to one command per file under cli/. */
import { EXIT_USAGE } from './cli/args.js';
import { checkConfigCommand } from './cli/check-config.js';
import { leaveCommand } from './cli/leave.js';
import { MAIN_HELP, VERSION_HELP } from './cli/help.js';
import { runCommand } from './cli/run.js';
import { statusCommand } from './cli/status.js';
import { versionCommand } from './cli/version.js';
import { AgentError, ErrorCode, errorMessage } from './errors.js';

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest);
      case 'status':
        return await statusCommand(rest);
      case 'check-config':
        return await checkConfigCommand(rest);
      case 'leave':
        return await leaveCommand(rest);
      case 'version':
      case '--version':
        if (rest.includes('--help')) {
          process.stdout.write(VERSION_HELP);
          return 0;
        }
        return versionCommand();
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(MAIN_HELP);
        return command === undefined ? EXIT_USAGE : 0;
      default:
        process.stderr.write(`mesh-node-agent: unknown command "${command}"\n\n${MAIN_HELP}`);
        return EXIT_USAGE;
    }
  } catch (err) {
    if (AgentError.is(err) && err.code === ErrorCode.UsageInvalid) {
      process.stderr.write(`${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`mesh-node-agent: ${errorMessage(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Nothing should outlive the command; a stray handle must not keep a stopped daemon around.
setTimeout(() => process.exit(code), 50).unref();
