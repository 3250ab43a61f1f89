/**
 * A controller module whose code is loaded on first use. The agent ships as one bundle with a chunk
 * per controller: a VM that enables only DNS never loads gRPC, node-forge, etcd3 or netlink (about
 * 20 MB of resident memory and a few hundred ms of start-up it would otherwise pay for nothing).
 */
import type { ControllerModule } from './controller.js';
import { AgentError, ErrorCode } from '../errors.js';

export function lazyModule(name: ControllerModule['name'], load: () => Promise<ControllerModule>, options: { cleanup?: boolean } = {}): ControllerModule {
  let loading: Promise<ControllerModule> | undefined;
  const loaded = async (): Promise<ControllerModule> => {
    const module = await (loading ??= load());
    if (module.name !== name) throw new AgentError(ErrorCode.Internal, `controller module "${name}" loaded the "${module.name}" module`);
    return module;
  };
  return {
    name,
    create: async (config, ctx) => (await loaded()).create(config, ctx),
    ...(options.cleanup === true
      ? {
          async cleanup(config, log) {
            await (await loaded()).cleanup?.(config, log);
          },
        }
      : {}),
  };
}
