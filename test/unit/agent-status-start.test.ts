/**
 * The order of the agent's start: the status socket is bound before any controller starts, answers
 * "starting" while the controllers make their first pass, and the status server takes it over once
 * they are done, or after a second when one is slow; a taken port fails the start before any
 * controller runs. Real sockets on loopback, scripted controllers.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import type { Controller, ControllerModule, Readiness } from '../../src/agent/controller.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { waitFor } from '../helpers/exec.js';
import { testPort } from '../helpers/ports.js';

/** A DNS controller whose start resolves when the test says so. */
class Gated implements Controller {
  readonly name = 'dns' as const;
  started = false;
  private open: () => void = () => undefined;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  start(): Promise<void> {
    this.started = true;
    return this.gate;
  }
  release(): void {
    this.open();
  }
  reload(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.open();
    return Promise.resolve();
  }
  status(): Record<string, unknown> {
    return {};
  }
  ready(): Readiness {
    return { ready: true };
  }
}

async function agentWith(controller: Gated, port: number): Promise<Agent> {
  const loaded = await loadConfig({ path: '/nonexistent/mna.yaml', mustExist: false });
  loaded.config.status.listen = `127.0.0.1:${port}`;
  loaded.config.dns.enabled = true;
  const modules: ControllerModule[] = [{ name: 'dns', create: () => controller }];
  return new Agent({ loaded, modules, log: createLogger({ level: 'silent' }), configMustExist: false });
}

/** Runs `body` while an agent with a gated controller starts; releases, awaits and stops it whatever happens. */
async function whileStarting(body: (port: number, controller: Gated, starting: Promise<void>) => Promise<void>): Promise<number> {
  const port = testPort();
  const controller = new Gated();
  const agent = await agentWith(controller, port);
  const starting = agent.start();
  try {
    await body(port, controller, starting);
  } finally {
    controller.release();
    await starting.catch(() => undefined);
    await agent.stop();
  }
  return port;
}

const get = async (port: number, path: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
};

test('while the controllers make their first pass the socket answers "starting"; then the status server has it', async () => {
  const port = await whileStarting(async (port, controller, starting) => {
    await waitFor('the controller started', () => controller.started, 5000, 5);
    assert.deepEqual(await get(port, '/livez'), { status: 200, body: 'ok\n' });
    const ready = await get(port, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /^starting/);
    controller.release();
    await starting;
    assert.deepEqual(await get(port, '/readyz'), { status: 200, body: 'ok\n' });
    assert.equal((await get(port, '/status')).status, 200);
  });
  await assert.rejects(get(port, '/livez'), 'the socket is closed after stop');
});

test('a controller slower than a second does not keep the status server away', async () => {
  await whileStarting(async (port, _controller, starting) => {
    // The status server answers /status (the "starting" socket never does) while the start still waits.
    await waitFor('the status server', async () => (await get(port, '/status')).status === 200, 10_000, 50);
    let settled = false;
    void starting.then(
      () => (settled = true),
      () => (settled = true),
    );
    assert.equal(settled, false, 'the controller is still starting');
    assert.match((await get(port, '/readyz?verbose')).body, /readyz check/);
  });
});

test('a taken status port fails the start before any controller starts', async () => {
  const holder = createServer();
  const port = testPort();
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
  const controller = new Gated();
  const agent = await agentWith(controller, port);
  try {
    await assert.rejects(agent.start(), new RegExp(`status\\.listen 127\\.0\\.0\\.1:${port}: address already in use`));
    assert.equal(controller.started, false);
    assert.ok(holder.listening, 'the other listener is untouched');
  } finally {
    await agent.stop();
    await new Promise((resolve) => holder.close(resolve));
  }
});
