/**
 * The real daemon as a child process: endpoints, SIGHUP reload (bad file keeps the running
 * config), SIGTERM, systemd notifications, and the CLI's exit codes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { buildStatusApp } from '../../src/status/server.js';
import { cliArgv, REPO_ROOT, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { testPort } from '../helpers/ports.js';
import { fetchStatus } from '../helpers/status-client.js';
import { statusDocument } from '../helpers/status-fixture.js';
import { run, waitFor } from '../helpers/exec.js';

function cli(...args: string[]): ReturnType<typeof run> {
  const [cmd, ...rest] = cliArgv(...args);
  return run(cmd ?? '', rest, { cwd: REPO_ROOT });
}

describe('agent lifecycle', () => {
  let agent: AgentHandle;
  let notifyDir: string;
  let notifyLog: string;
  let listener: ReturnType<typeof spawn>;

  before(async () => {
    // A stand-in for systemd's notify socket: logs every datagram, one per line.
    notifyDir = await mkdtemp(join(tmpdir(), 'mna-notify-'));
    notifyLog = join(notifyDir, 'messages');
    const socketPath = join(notifyDir, 'notify.sock');
    const script = [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      `s.bind(${JSON.stringify(socketPath)})`,
      'print("bound", flush=True)',
      `out = open(${JSON.stringify(notifyLog)}, "a", buffering=1)`,
      'while True:',
      '    data = s.recv(4096)',
      '    out.write(data.decode().replace("\\n", " ") + "\\n")',
    ].join('\n');
    listener = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => listener.stdout?.once('data', () => resolve()));
    agent = await startAgent({ config: { log: { level: 'info' } }, env: { NOTIFY_SOCKET: socketPath } });
    await agent.waitReady();
  });

  after(async () => {
    await agent.cleanup();
    listener.kill('SIGKILL');
    await rm(notifyDir, { recursive: true, force: true });
  });

  const notes = async (): Promise<string[]> => (await readFile(notifyLog, 'utf8').catch(() => '')).trim().split('\n').filter((l) => l !== '');

  test('serves /livez, /readyz, /status and /metrics on loopback', async () => {
    assert.equal((await agent.get('/livez')).status, 200);
    const ready = await agent.get('/readyz?verbose');
    assert.equal(ready.status, 200);
    assert.match(ready.body, /readyz check passed/);
    const status = await fetchStatus(agent);
    assert.equal(status.ready, true);
    assert.equal(status.config.generation, 1);
    assert.equal(status.config.path, agent.configPath);
    const metrics = (await agent.get('/metrics')).body;
    assert.match(metrics, /mesh_node_agent_build_info\{version="[^"]+",node="v20/);
    // The standard process and Node.js metrics keep their usual names, unprefixed.
    assert.match(metrics, /^process_resident_memory_bytes \d+/m);
    assert.doesNotMatch(metrics, /mesh_node_agent_process_|mesh_node_agent_nodejs_/);
  });

  test('tells systemd it is ready', async () => {
    const messages = await waitFor('READY=1', async () => ((await notes()).some((m) => m.includes('READY=1')) ? notes() : undefined), 5000);
    assert.ok(messages[0]?.includes('READY=1'), messages.join('\n'));
  });

  test('a bad config on SIGHUP is rejected and the running config keeps serving', async () => {
    const good = await readFile(agent.configPath, 'utf8');
    await writeFile(agent.configPath, `${good}\ndns:\n  cache: { size: "lots" }\n`);
    agent.proc.kill('SIGHUP');
    const status = await waitFor('reload rejected', async () => {
      const body = await fetchStatus(agent);
      return body.config.lastReload === undefined ? undefined : body;
    });
    assert.equal(status.config.lastReload?.ok, false);
    assert.match(status.config.lastReload?.error ?? '', /config\.yaml:\d+:\d+: dns\.cache\.size: /);
    assert.equal(status.config.generation, 1);
    assert.equal((await agent.get('/readyz')).status, 200, 'still ready on the old config');
    assert.match(agent.logs(), /config reload rejected; keeping the running config/);
    assert.match((await agent.get('/metrics')).body, /mesh_node_agent_config_reloads_total\{result="rejected"\} 1/);

    await writeFile(agent.configPath, good.replace('level: info', 'level: debug'));
    agent.proc.kill('SIGHUP');
    const applied = await waitFor('reload applied', async () => {
      const body = await fetchStatus(agent);
      return body.config.generation === 2 ? body : undefined;
    });
    assert.equal(applied.config.lastReload?.ok, true);
    const messages = await notes();
    const reloading = messages.findIndex((m) => m.includes('RELOADING=1'));
    assert.ok(reloading > 0, messages.join('\n'));
    assert.ok(messages.slice(reloading + 1).some((m) => m.includes('READY=1')), `READY=1 follows RELOADING=1:\n${messages.join('\n')}`);
  });

  test('status CLI: exit 0 when ready, with a table or JSON', async () => {
    const addr = agent.statusUrl.replace('http://', '');
    const table = await cli('status', '--addr', addr);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /READY/);
    assert.match(table.stdout, /CONTROLLER\s+STATE\s+READY/);
    const json = await cli('status', '--addr', addr, '--json');
    assert.equal(json.code, 0);
    assert.equal((JSON.parse(json.stdout) as { ready: boolean }).ready, true);
  });

  test('SIGTERM stops the agent with exit 0 within 5 s and says STOPPING=1', async () => {
    const result = await agent.stop('SIGTERM');
    assert.equal(result.code, 0, agent.logs().slice(-2000));
    assert.ok(result.ms < 5000, `took ${result.ms} ms`);
    assert.ok((await notes()).some((m) => m.includes('STOPPING=1')));
  });
});

describe('CLI exit codes', () => {
  test('status exits 2 when nothing listens', async () => {
    const result = await cli('status', '--addr', `127.0.0.1:${testPort()}`, '--timeout', '1000');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unreachable/);
  });

  test('status exits 1 when the agent answers but is not ready', async () => {
    const app = buildStatusApp({
      source: { readiness: () => [{ name: 'overlay', ready: false, reason: 'device missing' }], status: () => statusDocument({ version: 'x', ready: false, controllers: { overlay: { enabled: true, state: 'running', ready: false, reason: 'device missing', errors: 0 } } }) },
      metrics: new Registry(),
      allowRemote: false,
    });
    const port = testPort();
    await app.listen({ host: '127.0.0.1', port });
    try {
      const result = await cli('status', '--addr', `127.0.0.1:${port}`);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /NOT READY/);
      assert.match(result.stdout, /overlay\s+running\s+no\s+device missing/);
    } finally {
      await app.close();
    }
  });

  test('run exits 1 naming status.listen when the status port is taken, and removes nothing', async () => {
    const holder = createServer();
    const port = testPort();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    const agent = await startAgent({ config: {}, statusPort: port });
    try {
      const code = agent.proc.exitCode ?? ((await once(agent.proc, 'exit')) as [number | null])[0];
      assert.equal(code, 1, agent.logs());
      assert.match(agent.logs(), new RegExp(`status\\.listen 127\\.0\\.0\\.1:${port}: address already in use`));
      assert.ok(holder.listening, 'the other listener is untouched');
    } finally {
      await agent.cleanup();
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  test('check-config and run reject a bad file with file:line:col and exit 1; usage errors exit 64', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mna-cli-'));
    try {
      const path = join(dir, 'c.yaml');
      await writeFile(path, 'istio: { clusterEnv: "", sidecarEnv: "" }\noverlay:\n  port: 0\n');
      const check = await cli('check-config', '--config', path);
      assert.equal(check.code, 1);
      assert.match(check.stderr, new RegExp(`${path}:3:9: overlay\\.port: Too small`));
      const start = await cli('run', '--config', path);
      assert.equal(start.code, 1);
      assert.match(start.stderr, /overlay\.port: Too small/);
      await writeFile(path, 'istio: { clusterEnv: "", sidecarEnv: "" }\noverlay:\n  port: 4789\n');
      const ok = await cli('check-config', '--config', path);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, new RegExp(`port: 4789 # ${path}:3:9`));
      assert.match(ok.stdout, /vni: 1 # default/);
      assert.equal((await cli('status', '--bogus')).code, 64);
      assert.equal((await cli('frobnicate')).code, 64);
      const version = await cli('version');
      assert.equal(version.code, 0);
      assert.match(version.stdout, /^mesh-node-agent \d+\.\d+\.\d+/);
      const help = await cli('--help');
      assert.match(help.stdout, /check-config/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
