/** Start-time problems the config cannot see (they depend on the host) are clear, and the agent lives on. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/exec.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { overlayConfig } from './overlay-topology.js';

interface OverlayStatus {
  state: string;
  lastError?: { message: string };
}

void describe('overlay start errors', () => {
  let vm: Netns;
  let agent: AgentHandle | undefined;

  before(async () => {
    vm = await createNetns('ov');
  });
  after(async () => {
    await agent?.cleanup();
    await vm?.destroy();
  });

  void test('an unknown underlay interface fails the overlay with a message naming the key', async () => {
    agent = await startAgent({ ns: vm, config: overlayConfig({ underlay: { interface: 'nope0' } }) });
    const overlay = await waitFor(
      'overlay marked failed',
      async () => {
        const body = JSON.parse((await agent!.get('/status')).body) as { controllers: { overlay: OverlayStatus } };
        return body.controllers.overlay.state === 'failed' ? body.controllers.overlay : undefined;
      },
      20_000,
      100,
    );
    assert.match(overlay.lastError?.message ?? '', /overlay\.underlay\.interface: no interface named "nope0" on this host/);
    assert.equal((await agent.get('/readyz')).status, 503);
    assert.equal(agent.proc.exitCode, null, 'the daemon keeps running');
    assert.equal((await vm.run('ip', ['link', 'show', 'flannel.1'])).code !== 0, true, 'no device was created');
  });
});
