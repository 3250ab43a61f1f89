/**
 * Structured logs: pino JSON lines on stdout (journald stores them as is). Anything that looks
 * like a private key, bearer token or secret is replaced before it is written, whatever the
 * caller passed: a log line must never carry a credential.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

// Field names whose string values are secrets. A bare "key" is not among them (etcd keys, map keys):
// private keys are caught by their PEM content below, whatever the field is called.
const SECRET_KEY = /(^|[_-])(token|password|passwd|secret|authorization|credential|privatekey|keypem|bearer)s?$/i;
const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;
const JWT = /\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g;
const BEARER = /\b(Bearer\s+)[\w.~+/-]+=*/gi;
export const REDACTED = '[REDACTED]';

export function scrubText(text: string): string {
  return text.replace(PEM_PRIVATE, REDACTED).replace(JWT, REDACTED).replace(BEARER, `$1${REDACTED}`);
}

export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { type: value.name, message: scrubText(value.message), stack: value.stack === undefined ? undefined : scrubText(value.stack), code: (value as { code?: unknown }).code };
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    out[key] = SECRET_KEY.test(key) && typeof item === 'string' && item !== '' ? REDACTED : scrub(item, depth + 1);
  }
  return out;
}

export interface LoggerOptions {
  level: LevelWithSilent;
  /** Where lines go; stdout when omitted (tests pass a stream). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: undefined, // journald records pid and host itself
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrub(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const cleaned = args.map((arg) => (typeof arg === 'string' ? scrubText(arg) : arg));
          method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
