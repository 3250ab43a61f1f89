/**
 * The composition root: every capability's controller module, in start order (DNS before
 * capture, so redirected queries find a listener). Controllers never import each other, and each
 * is loaded only when enabled (see agent/lazy-module.ts).
 */
import type { ControllerModule } from './agent/controller.js';
import { lazyModule } from './agent/lazy-module.js';

export const CONTROLLER_MODULES: readonly ControllerModule[] = [
  lazyModule('identity', async () => (await import('./identity/module.js')).identityModule),
  lazyModule('overlay', async () => (await import('./overlay/module.js')).overlayModule),
  lazyModule('dns', async () => (await import('./dns/module.js')).dnsModule),
  lazyModule('capture', async () => (await import('./capture/module.js')).captureModule, { cleanup: true }),
];
