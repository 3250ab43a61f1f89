/**
 * systemd readiness protocol. Node has no AF_UNIX datagram sockets, so we spawn systemd-notify
 * (the unit sets NotifyAccess=all). Without NOTIFY_SOCKET (not under systemd) it is a no-op.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../log.js';

export interface Notifier {
  notify(...assignments: string[]): Promise<void>;
}

export function createNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): Notifier {
  const socket = env.NOTIFY_SOCKET;
  return {
    notify(...assignments: string[]): Promise<void> {
      if (socket === undefined || socket === '') return Promise.resolve();
      return new Promise((resolve) => {
        execFile('systemd-notify', [`--pid=${process.pid}`, ...assignments], { env, timeout: 5000 }, (err) => {
          if (err !== null) log.warn({ err, assignments }, 'systemd-notify failed');
          resolve();
        });
      });
    },
  };
}
