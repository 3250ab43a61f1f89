/**
 * Value schemas shared by the controllers' config sections (each section lives beside its
 * controller, e.g. overlay/config-schema.ts). Durations are turned into milliseconds; everything
 * else keeps the shape users write.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { isIp, isMac } from '../net/address.js';
import { parseCidr } from '../net/cidr.js';
import { isHostName, parseHostPort } from '../net/host-port.js';

export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration; write e.g. 30s, 15m, 24h` });
    return z.NEVER;
  }
  return ms;
});

export const port = z.number().int().min(1).max(65535);
export const ip = z.string().refine(isIp, { message: 'not an IP address' });
export const cidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  message: 'not a CIDR; write e.g. 10.234.0.0/16',
});
export const hostPort = z.string().refine(
  (v) => {
    const hp = parseHostPort(v);
    return hp !== undefined && (isIp(hp.host) || isHostName(hp.host));
  },
  { message: 'not HOST:PORT; write e.g. 127.0.0.1:15030 or [::1]:53' },
);
export const mac = z.string().refine(isMac, { message: 'not a MAC address; write e.g. 5a:09:44:c7:a3:fb' });
export const domainName = z.string().min(1).refine((v) => /^[A-Za-z0-9*_.-]+$/.test(v) && !v.includes('..'), {
  message: 'not a domain name',
});
