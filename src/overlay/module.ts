/** The overlay capability as the supervisor sees it. */
import type { ControllerModule } from '../agent/controller.js';
import { OverlayController } from './controller.js';

export const overlayModule: ControllerModule = {
  name: 'overlay',
  create: (config, ctx) => new OverlayController(config, ctx),
};
