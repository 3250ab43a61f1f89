/**
 * The status endpoint's DNS-rebinding defence, against the real agent (the status page at / and
 * /status/history included): a request is served only
 * when its Host is a loopback name or address; any other Host (what a rebound web page sends) is
 * refused with 421 and a body that says why. With status.allowRemote: true every Host is served.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { cliArgv, startAgent, type AgentHandle } from '../helpers/agent-process.js';
import { run } from '../helpers/exec.js';
import { testPort } from '../helpers/ports.js';

/** One GET to 127.0.0.1:port with the given Host header (node:http sends it as is). */
function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { Host: host }, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP/1.0 request with no Host header at all (node:http always sends one). */
function getWithoutHost(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end('GET /status HTTP/1.0\r\n\r\n'));
    let data = '';
    socket.setEncoding('utf8');
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('status endpoint: Host check', () => {
  let agent: AgentHandle;
  const port = testPort();

  before(async () => {
    agent = await startAgent({ statusPort: port, config: {} });
    await agent.waitReady();
  });

  after(async () => {
    await agent.cleanup();
  });

  test('a foreign Host is refused on every path with 421 and a reason; nothing of /status leaks', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1.evil.example', 'localhost.evil.example', `10.0.0.5:${port}`, '[fe80::1]']) {
      for (const path of ['/', '/status', '/status/history', '/metrics', '/readyz?verbose', '/livez']) {
        const res = await get(port, path, host);
        assert.equal(res.status, 421, `${host} ${path}`);
        assert.match(res.body, /refused: the status endpoint answers only requests addressed to a loopback name or address/);
        assert.ok(res.body.includes(JSON.stringify(host)), res.body);
        assert.doesNotMatch(res.body, /"version"|"points"|mesh_node_agent_|<html/);
      }
    }
  });

  test('a request without Host is refused too', async () => {
    const raw = await getWithoutHost(port);
    assert.match(raw, /^HTTP\/1\.[01] 421 /);
    assert.match(raw, /no Host header refused/);
  });

  test('loopback names and addresses, with or without a port, are served', async () => {
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', '127.3.2.1', 'localhost', `LOCALHOST:${port}`, 'localhost.', '[::1]', `[::1]:${port}`]) {
      const res = await get(port, '/status', host);
      assert.equal(res.status, 200, `${host}: ${res.body}`);
      assert.equal((JSON.parse(res.body) as { pid: number }).pid, agent.proc.pid);
      const page = await get(port, '/', host);
      assert.equal(page.status, 200, `${host} /: ${page.body.slice(0, 200)}`);
      assert.match(page.body, /^<!doctype html>/);
      assert.ok(page.body.includes(`data-k="agent.pid">${agent.proc.pid}<`), 'the page shows this agent');
      assert.equal((await get(port, '/status/history', host)).status, 200);
    }
    const [node = process.execPath, ...args] = cliArgv('status', '--addr', `127.0.0.1:${port}`);
    const cli = await run(node, args);
    assert.equal(cli.code, 0, `${cli.stdout}${cli.stderr}`);
  });

  test('status.allowRemote: true serves any Host (the endpoint is meant for other hosts then)', async () => {
    const remotePort = testPort();
    const remote = await startAgent({ statusPort: remotePort, config: { status: { listen: `127.0.0.1:${remotePort}`, allowRemote: true } } });
    try {
      await remote.waitReady();
      const res = await get(remotePort, '/status', 'vm.example.internal');
      assert.equal(res.status, 200, res.body);
      assert.equal((JSON.parse(res.body) as { pid: number }).pid, remote.proc.pid);
    } finally {
      await remote.cleanup();
    }
  });
});
