/** The overlay capability as the supervisor sees it: the controller on the real kernel. */
import type { ControllerModule } from '../agent/controller.js';
import { OverlayController } from './controller.js';
import { NetlinkKernel } from './netlink-kernel.js';

export const overlayModule: ControllerModule = {
  name: 'overlay',
  create: (config, ctx) => new OverlayController(config, ctx, { kernel: new NetlinkKernel() }),
};
