import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import type { Controller, ControllerContext, ControllerModule, Readiness } from '../../src/agent/controller.js';
import { lazyModule } from '../../src/agent/lazy-module.js';
import { Supervisor } from '../../src/agent/supervisor.js';
import { loadConfig } from '../../src/config/load.js';
import { CONTROLLER_NAMES, type Config, type ControllerName } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { buildStatusApp } from '../../src/status/server.js';
import { active } from '../helpers/status-client.js';
import { statusDocument } from '../helpers/status-fixture.js';

/** A scripted controller: records calls, readiness and failures are set by the test. */
class Scripted implements Controller {
  calls: string[] = [];
  readiness: Readiness = { ready: true };
  failStart = false;
  hangStop = false;
  constructor(readonly name: ControllerName) {}
  start(): Promise<void> {
    this.calls.push('start');
    return this.failStart ? Promise.reject(new Error('boom at start')) : Promise.resolve();
  }
  reload(config: Config): Promise<void> {
    this.calls.push(`reload:${config.log.level}`);
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.calls.push('stop');
    return this.hangStop ? new Promise(() => undefined) : Promise.resolve();
  }
  status(): Record<string, unknown> {
    return { calls: this.calls.length };
  }
  ready(): Readiness {
    return this.readiness;
  }
}

function modules(...controllers: Scripted[]): ControllerModule[] {
  return controllers.map((c) => ({ name: c.name, create: () => c }));
}

async function config(overrides: Partial<Record<ControllerName, boolean>>, level = 'info'): Promise<Config> {
  const { config: base } = await loadConfig({ path: '/nonexistent/mna.yaml', mustExist: false });
  const out = structuredClone(base);
  out.log.level = level as Config['log']['level'];
  for (const [name, enabled] of Object.entries(overrides)) out[name as ControllerName].enabled = enabled;
  return out;
}

const silent = createLogger({ level: 'silent' });

/** Lets pending promise callbacks run until `done` holds (bounded: a hundred turns of the event loop). */
async function waitUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i += 1) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(done(), 'the condition held within 100 event-loop turns');
}

describe('supervisor', () => {
  test('starts enabled controllers only and aggregates readiness', async () => {
    const identity = new Scripted('identity');
    const overlay = new Scripted('overlay');
    const dns = new Scripted('dns');
    const sup = new Supervisor(await config({ identity: true, overlay: true, dns: false }), { modules: modules(identity, overlay, dns), log: silent, metrics: new Registry() });
    await sup.start();
    assert.deepEqual(identity.calls, ['start']);
    assert.deepEqual(dns.calls, []);
    assert.equal(sup.isReady(), true);
    overlay.readiness = { ready: false, reason: 'peers not programmed' };
    assert.equal(sup.isReady(), false);
    assert.deepEqual(sup.readiness(), [
      { name: 'identity', ready: true },
      { name: 'overlay', ready: false, reason: 'peers not programmed' },
    ]);
  });

  test('a controller that fails to start is reported, the others keep running', async () => {
    const identity = new Scripted('identity');
    identity.failStart = true;
    const overlay = new Scripted('overlay');
    const metrics = new Registry();
    const sup = new Supervisor(await config({ identity: true, overlay: true }), { modules: modules(identity, overlay), log: silent, metrics });
    await sup.start();
    const status = sup.status();
    assert.equal(status.identity.state, 'failed');
    assert.equal(active(status.identity).lastError?.message, 'boom at start');
    assert.equal(status.overlay.state, 'running');
    assert.deepEqual(status.dns, { enabled: false, state: 'disabled' }, 'every controller has a section');
    assert.equal(sup.isReady(), false);
    assert.match(await metrics.metrics(), /mesh_node_agent_controller_errors_total\{controller="identity"\} 1/);
  });

  test('apply reloads running controllers, starts newly enabled ones and stops disabled ones', async () => {
    const identity = new Scripted('identity');
    const overlay = new Scripted('overlay');
    const log = createLogger({ level: 'info', destination: new PassThrough() });
    const sup = new Supervisor(await config({ identity: true, overlay: false }), { modules: modules(identity, overlay), log, metrics: new Registry() });
    await sup.start();
    await sup.apply(await config({ identity: true, overlay: true }, 'debug'));
    assert.equal(log.level, 'debug', 'log.level applies on reload');
    assert.deepEqual(identity.calls, ['start', 'reload:debug']);
    assert.deepEqual(overlay.calls, ['start']);
    await sup.apply(await config({ identity: false, overlay: true }, 'warn'));
    assert.deepEqual(identity.calls, ['start', 'reload:debug', 'stop']);
    assert.deepEqual(overlay.calls, ['start', 'reload:warn']);
    const status = sup.status();
    assert.deepEqual(CONTROLLER_NAMES.filter((k) => status[k].enabled), ['overlay']);
  });

  test('a reload while a controller is still starting waits for it and reloads it: no second controller', async () => {
    // Like the real ones, this controller registers its metrics when constructed: a second instance
    // in the same registry would throw "metric already registered".
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const created: Scripted[] = [];
    const slowStart: ControllerModule = {
      name: 'identity',
      create: (_config, ctx: ControllerContext) => {
        new Counter({ name: 'mesh_node_agent_identity_test_total', help: 'registered per instance', registers: [ctx.metrics] });
        const c = new Scripted('identity');
        c.start = () => {
          c.calls.push('start');
          return gate;
        };
        created.push(c);
        return c;
      },
    };
    const metrics = new Registry();
    const sup = new Supervisor(await config({ identity: true }), { modules: [slowStart], log: silent, metrics });
    const starting = sup.start();
    await waitUntil(() => created[0]?.calls.includes('start') === true);
    assert.deepEqual(sup.readiness(), [{ name: 'identity', ready: false, reason: 'starting' }]);
    const reloading = sup.apply(await config({ identity: true }, 'debug'));
    release();
    await Promise.all([starting, reloading]);
    assert.equal(created.length, 1, 'one controller');
    assert.deepEqual(created[0]?.calls, ['start', 'reload:debug']);
    const status = sup.status() as unknown as Record<string, { state: string; errors: number; lastError?: { message: string } }>;
    assert.equal(status.identity?.state, 'running', status.identity?.lastError?.message);
    assert.equal(status.identity?.errors, 0);
    await sup.stop();
  });

  test('a controller whose stop hangs does not hold up shutdown beyond its timeout', async () => {
    const identity = new Scripted('identity');
    identity.hangStop = true;
    const overlay = new Scripted('overlay');
    const sup = new Supervisor(await config({ identity: true, overlay: true }), { modules: modules(identity, overlay), log: silent, metrics: new Registry(), stopTimeoutMs: 200 });
    await sup.start();
    const started = Date.now();
    await sup.stop();
    assert.ok(Date.now() - started < 2000);
    assert.deepEqual(overlay.calls, ['start', 'stop']);
    assert.deepEqual(identity.calls, ['start', 'stop']);
  });
});

describe('status endpoints', () => {
  test('/readyz is 503 while a controller is not ready, and ?verbose names it', async () => {
    const identity = new Scripted('identity');
    const overlay = new Scripted('overlay');
    const metrics = new Registry();
    const sup = new Supervisor(await config({ identity: true, overlay: true }), { modules: modules(identity, overlay), log: silent, metrics });
    await sup.start();
    const app = buildStatusApp({ source: { readiness: () => sup.readiness(), status: () => statusDocument({ ready: sup.isReady(), controllers: sup.status() }) }, metrics, allowRemote: false });
    try {
      assert.equal((await app.inject('/readyz')).statusCode, 200);
      overlay.readiness = { ready: false, reason: 'device missing' };
      const res = await app.inject('/readyz?verbose');
      assert.equal(res.statusCode, 503);
      assert.equal(res.body, '[+]identity ok\n[-]overlay failed: device missing\nreadyz check failed\n');
      assert.equal((await app.inject('/livez')).statusCode, 200, 'liveness does not depend on controllers');
      const status = JSON.parse((await app.inject('/status')).body) as { ready: boolean; controllers: { overlay: { reason: string } } };
      assert.equal(status.ready, false);
      assert.equal(status.controllers.overlay.reason, 'device missing');
      const prom = await app.inject('/metrics');
      assert.match(String(prom.headers['content-type']), /text\/plain/);
      assert.match(prom.body, /mesh_node_agent_controller_ready\{controller="overlay"\} 0/);
      assert.match(prom.body, /mesh_node_agent_controller_ready\{controller="identity"\} 1/);
    } finally {
      await app.close();
      await sup.stop();
    }
  });
});

describe('lazy controller modules', () => {
  test('code loads on the first create only, once, and only for enabled controllers', async () => {
    const loads: string[] = [];
    const identity = new Scripted('identity');
    const dns = new Scripted('dns');
    const lazy = (c: Scripted): ControllerModule =>
      lazyModule(c.name, () => {
        loads.push(c.name);
        return Promise.resolve({ name: c.name, create: () => c });
      });
    const mods = [lazy(identity), lazy(dns)];
    assert.deepEqual(loads, [], 'nothing loads when the list is built');
    const sup = new Supervisor(await config({ identity: false, dns: true }), { modules: mods, log: silent, metrics: new Registry() });
    await sup.start();
    assert.deepEqual(loads, ['dns']);
    assert.deepEqual(dns.calls, ['start']);
    await sup.apply(await config({ identity: false, dns: false }));
    await sup.apply(await config({ identity: false, dns: true }));
    assert.deepEqual(loads, ['dns'], 'a restart reuses the loaded code');
    assert.deepEqual(dns.calls, ['start', 'stop', 'start']);
    await sup.stop();
  });

  test('a module that fails to load marks its controller failed, with the reason', async () => {
    const mods = [lazyModule('overlay', () => Promise.reject(new Error('netlink addon missing')))];
    const sup = new Supervisor(await config({ overlay: true }), { modules: mods, log: silent, metrics: new Registry() });
    await sup.start();
    const overlay = active(sup.status().overlay);
    assert.equal(overlay.state, 'failed');
    assert.equal(overlay.lastError?.message, 'netlink addon missing');
    assert.deepEqual(sup.readiness(), [{ name: 'overlay', ready: false, reason: 'failed: netlink addon missing' }]);
  });

  test('a controller stopped while its code loads is never started', async () => {
    const dns = new Scripted('dns');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mods = [lazyModule('dns', async () => {
      await gate;
      return { name: 'dns', create: () => dns };
    })];
    const sup = new Supervisor(await config({ dns: true }), { modules: mods, log: silent, metrics: new Registry() });
    const starting = sup.start();
    await sup.stop();
    release();
    await starting;
    assert.deepEqual(dns.calls, []);
  });

  test('cleanup is offered only where asked for, and delegates to the loaded module', async () => {
    const cleaned: string[] = [];
    const module: ControllerModule = { name: 'capture', create: () => new Scripted('capture'), cleanup: (c) => Promise.resolve(void cleaned.push(c.log.level)) };
    assert.equal('cleanup' in lazyModule('dns', () => Promise.resolve(module)), false);
    const withCleanup = lazyModule('capture', () => Promise.resolve(module), { cleanup: true });
    await withCleanup.cleanup?.(await config({}, 'warn'), silent);
    assert.deepEqual(cleaned, ['warn']);
    await assert.rejects(async () => lazyModule('dns', () => Promise.resolve(module)).create(await config({}), { log: silent, metrics: new Registry(), reportError: () => undefined }), /"dns" loaded the "capture" module/);
  });
});
