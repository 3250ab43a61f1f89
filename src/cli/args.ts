/** Thin wrapper over node:util parseArgs that turns its errors into usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';

export const EXIT_USAGE = 64;

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new AgentError(ErrorCode.UsageInvalid, `${command}: ${errorMessage(err)}; see "mesh-node-agent ${command} --help"`);
  }
}
