/**
 * The contract every capability implements. The supervisor knows nothing else about a
 * controller: it starts, reloads and stops it, and asks for its status, readiness and metrics.
 */
import type { Registry } from 'prom-client';
import type { Config, ControllerName } from '../config/schema.js';
import type { Logger } from '../log.js';

export interface Readiness {
  ready: boolean;
  /** Why not ready (or a short note when ready); shown by /readyz?verbose. */
  reason?: string;
}

export interface ControllerContext {
  /** Child logger tagged { controller: name }. */
  log: Logger;
  /** The agent's registry: create metrics with `registers: [ctx.metrics]`, named mesh_node_agent_<name>_…. */
  metrics: Registry;
  /**
   * Report a failure that happened outside a supervisor call (a timer, an event handler). It is
   * logged and shown in /status; the controller keeps running.
   */
  reportError(err: unknown): void;
}

export interface Controller {
  readonly name: ControllerName;
  /** Bring the host to the desired state. Rejecting marks the controller failed (the daemon lives on). */
  start(): Promise<void>;
  /** Apply a new, already validated config. Called only while started. */
  reload(config: Config): Promise<void>;
  /** Stop timers, sockets and watchers; undo host changes only where the config says so. */
  stop(): Promise<void>;
  /** JSON for the controller's section of /status. */
  status(): Record<string, unknown>;
  ready(): Readiness;
}

export interface ControllerModule {
  name: ControllerName;
  /** May load the controller's code first (controllers.ts loads each one only when it is enabled). */
  create(config: Config, ctx: ControllerContext): Controller | Promise<Controller>;
  /** `run --cleanup-only` (systemd ExecStopPost): undo host changes without a running controller. */
  cleanup?(config: Config, log: Logger): Promise<void>;
}
