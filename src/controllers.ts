/**
 * The composition root: every capability's controller module, in start order (DNS before
 * capture, so redirected queries find a listener). Controllers never import each other.
 */
import type { ControllerModule } from './agent/controller.js';
import { captureModule } from './capture/controller.js';
import { dnsModule } from './dns/controller.js';
import { identityModule } from './identity/index.js';
import { overlayModule } from './overlay/module.js';

export const CONTROLLER_MODULES: readonly ControllerModule[] = [identityModule, overlayModule, dnsModule, captureModule];
