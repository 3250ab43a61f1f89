/** The capture capability as the supervisor sees it (see controllers.ts), and `run --cleanup-only`. */
import type { ControllerModule } from '../agent/controller.js';
import { CaptureController } from './controller.js';
import { systemCaptureBoundary } from './system-boundary.js';

export const captureModule: ControllerModule = {
  name: 'capture',
  create: (config, ctx) => new CaptureController(config, ctx),
  async cleanup(config, log) {
    // With capture disabled the ISTIO_* chains may belong to istio-start.sh: not ours to remove.
    if (!config.capture.enabled) {
      log.info('capture disabled; leaving iptables alone');
      return;
    }
    const tables = await systemCaptureBoundary().openTables();
    const plans = await tables.cleanup();
    log.info({ backend: tables.backend, tables: plans.filter((p) => !p.inSync).map((p) => p.table) }, 'capture rules removed');
  },
};
