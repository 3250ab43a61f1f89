/** The identity capability as the supervisor sees it (see controllers.ts). */
import type { ControllerModule } from '../agent/controller.js';
import { IdentityController } from './controller.js';

export const identityModule: ControllerModule = {
  name: 'identity',
  create: (config, ctx) => new IdentityController(config, ctx),
};
