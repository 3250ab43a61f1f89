/** The DNS capability as the supervisor sees it (see controllers.ts). */
import type { ControllerModule } from '../agent/controller.js';
import { DnsController } from './controller.js';

export const dnsModule: ControllerModule = {
  name: 'dns',
  create: (config, ctx) => new DnsController(config, ctx),
};
