/** A complete /status document for tests that serve or render one without a running agent. */
import type { ControllerSections, StatusDocument } from '../../src/status/status-document.js';

const OFF = { enabled: false, state: 'disabled' } as const;

export function statusDocument(overrides: Partial<Omit<StatusDocument, 'controllers'>> & { controllers?: Partial<ControllerSections> } = {}): StatusDocument {
  const { controllers, ...rest } = overrides;
  return {
    version: '0.0.0-test',
    hostname: 'test-host',
    pid: 1234,
    uptimeSeconds: 5,
    ready: true,
    config: { path: '/etc/mesh-node-agent/config.yaml', envFiles: [], generation: 1 },
    unhandledErrors: { count: 0 },
    ...rest,
    controllers: { identity: OFF, overlay: OFF, capture: OFF, dns: OFF, ...controllers },
  };
}
