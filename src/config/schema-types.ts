/**
 * Value schemas shared by the controllers' config sections (each section lives beside its
 * controller, e.g. overlay/config-schema.ts), and `key()`, which documents a key where it is
 * declared: docs/config.md is generated from these (scripts/gen/config-doc.ts). Durations are
 * turned into milliseconds; everything else keeps the shape users write.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { isIp, isMac } from '../net/address.js';
import { parseCidr } from '../net/cidr.js';
import { isHostName, parseHostPort } from '../net/host-port.js';

export interface KeyDoc {
  /** What the key does, in the reader's terms; Markdown. */
  description: string;
  /** A value as written in config.yaml (shown in YAML flow style). */
  example: unknown;
  /** The value's form, when the schema's structure does not say it (a refined shared type). */
  type?: string;
}

/** Documented keys; read by the doc generator only. */
export const keyDocs = z.registry<KeyDoc>();
const typeNames = new WeakMap<z.ZodType, string>();

function named<T extends z.ZodType>(schema: T, type: string): T {
  typeNames.set(schema, type);
  return schema;
}

/** The form name of a shared value schema (`CIDR`, `duration`), if it is one. */
export function typeName(schema: z.ZodType): string | undefined {
  return typeNames.get(schema);
}

/** A documented key: a copy of `schema` (shared value schemas are documented per key) carrying `doc`. */
export function key<T extends z.ZodType>(schema: T, doc: KeyDoc): T {
  const copy = schema.clone();
  const type = doc.type ?? typeNames.get(schema);
  keyDocs.add(copy, type === undefined ? doc : { ...doc, type });
  return copy;
}

const DURATION = 'duration (`30s`, `15m`, `24h`, …; a bare number is milliseconds)';

export const duration = named(
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration; write e.g. 30s, 15m, 24h` });
      return z.NEVER;
    }
    return ms;
  }),
  DURATION,
);

/** A duration of at least `minMs`; `message` says why when shorter. */
export function durationAtLeast(minMs: number, message: string): typeof duration {
  return named(duration.refine((ms) => ms >= minMs, { message }), DURATION);
}

export const port = named(z.number().int().min(1).max(65535), 'port (1-65535)');
export const ip = named(z.string().refine(isIp, { message: 'not an IP address' }), 'IP address');
export const cidr = named(
  z.string().refine((v) => parseCidr(v) !== undefined, {
    message: 'not a CIDR; write e.g. 10.234.0.0/16',
  }),
  'CIDR',
);
export const hostPort = named(
  z.string().refine(
    (v) => {
      const hp = parseHostPort(v);
      return hp !== undefined && (isIp(hp.host) || isHostName(hp.host));
    },
    { message: 'not HOST:PORT; write e.g. 127.0.0.1:15030 or [::1]:53' },
  ),
  'HOST:PORT (IPv6 in brackets)',
);
export const mac = named(z.string().refine(isMac, { message: 'not a MAC address; write e.g. 5a:09:44:c7:a3:fb' }), 'MAC address');
export const domainName = named(
  z
    .string()
    .min(1)
    .refine((v) => /^[A-Za-z0-9*_.-]+$/.test(v) && !v.includes('..'), {
      message: 'not a domain name',
    }),
  'domain name',
);
