/**
 * A path from this test process into a namespace's loopback: a TCP listener on the host's
 * 127.0.0.1 (any free port) → a unix socket in the test's directory → a forwarder process inside
 * the namespace → 127.0.0.1:PORT there. Unix sockets live in the file system, which namespaces
 * share, so no address or route is added to the host. The test can cut the path (a partition
 * that leaves the server running) and restore it.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { access } from 'node:fs/promises';
import { waitFor } from './exec.js';
import type { Netns } from './netns.js';

export interface NsBridge {
  /** 127.0.0.1:port on the host. */
  host: string;
  port: number;
  /** Drops every connection and refuses new ones (accepts, then closes them at once). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

// Runs inside the namespace (plain CommonJS for `node -e`): unix socket → host:port there.
const FORWARDER = `
const net = require('node:net');
const [path, port, host] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(Number(port), host);
  const drop = () => { c.destroy(); u.destroy(); };
  c.on('error', drop).on('close', drop);
  u.on('error', drop).on('close', drop);
  c.pipe(u);
  u.pipe(c);
}).listen(path);
`;

export async function startNsBridge(ns: Netns, socketPath: string, targetPort: number, targetHost = '127.0.0.1'): Promise<NsBridge> {
  const forwarder = ns.spawn(process.execPath, ['-e', FORWARDER, socketPath, String(targetPort), targetHost]);
  let output = '';
  forwarder.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  await waitFor(`the bridge forwarder's socket ${socketPath}`, async () => {
    if (forwarder.exitCode !== null) throw new Error(`forwarder exited ${forwarder.exitCode}: ${output}`);
    return access(socketPath).then(() => true, () => false);
  }, 10_000);

  const sockets = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect({ path: socketPath });
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
  return {
    host: `127.0.0.1:${port}`,
    port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      cut = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      forwarder.kill('SIGKILL');
    },
  };
}

// Runs inside a client's namespace: 127.0.0.1:port → the API server's unix socket.
const ENTRY = `
const net = require('node:net');
const [path, port] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect({ path });
  const drop = () => { c.destroy(); u.destroy(); };
  c.on('error', drop).on('close', drop);
  u.on('error', drop).on('close', drop);
  c.pipe(u);
  u.pipe(c);
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\\n'));
`;

export interface NsEntry {
  /** https://127.0.0.1:<port> as seen inside the namespace. */
  url: string;
  /** Stops the listener (a partition: connections refused, open ones dropped). */
  cut(): void;
  /** Listens again. */
  restore(): Promise<void>;
  close(): void;
}

/**
 * The API server as a process inside `ns` reaches it: 127.0.0.1:<port> there (covered by the
 * serving certificate), forwarded to the API server's bridge socket (`<api dir>/bridge.sock`).
 */
export async function startNsEntry(ns: Netns, socketPath: string, port: number): Promise<NsEntry> {
  let child: ReturnType<Netns['spawn']> | undefined;
  const up = async (): Promise<void> => {
    const proc = ns.spawn(process.execPath, ['-e', ENTRY, socketPath, String(port)]);
    child = proc;
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(`the API entry on 127.0.0.1:${port} in ${ns.name}`, () => {
      if (proc.exitCode !== null) throw new Error(`entry exited ${proc.exitCode}: ${out}`);
      return out.includes('listening');
    }, 10_000);
  };
  await up();
  return {
    url: `https://127.0.0.1:${port}`,
    cut() {
      child?.kill('SIGKILL');
      child = undefined;
    },
    restore: up,
    close() {
      child?.kill('SIGKILL');
    },
  };
}
