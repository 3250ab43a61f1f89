/** The capture capability as the supervisor sees it (see controllers.ts), and `run --cleanup-only`. */
import type { ControllerModule } from '../agent/controller.js';
import { CaptureController } from './controller.js';
import { detectBinaries, directExec, Iptables } from './iptables.js';

export const captureModule: ControllerModule = {
  name: 'capture',
  create: (config, ctx) => new CaptureController(config, ctx),
  async cleanup(config, log) {
    // With capture disabled the ISTIO_* chains may belong to istio-start.sh: not ours to remove.
    if (!config.capture.enabled) {
      log.info('capture disabled; leaving iptables alone');
      return;
    }
    const iptables = new Iptables(await detectBinaries(directExec));
    const plans = await iptables.cleanup();
    log.info({ backend: iptables.binaries.backend, tables: plans.filter((p) => !p.inSync).map((p) => p.table) }, 'capture rules removed');
  },
};
