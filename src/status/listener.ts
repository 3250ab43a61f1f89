/**
 * The status socket, bound before the controllers start: a taken port fails the start before
 * anything touches the host, and a probe gets an answer from the first moment. Until the status
 * server (server.ts) takes the socket over, /livez answers "ok" and every other path 503
 * "starting": the server is fastify, most of the bundle, and loading it waits for the controllers'
 * first pass (agent.ts), so the host is programmed first.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { formatHostPort, type HostPort } from '../net/host-port.js';

function starting(req: IncomingMessage, res: ServerResponse): void {
  const live = req.url === '/livez';
  // Nothing about the host is told here, so no Host check is needed either.
  res.writeHead(live ? 200 : 503, { 'content-type': 'text/plain', ...(live ? {} : { 'retry-after': '1' }) });
  res.end(live ? 'ok\n' : 'starting: the controllers are making their first pass\n');
}

export async function bindStatusListener(listen: HostPort): Promise<Server> {
  const server = createServer(starting);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    server.close();
    const where = formatHostPort(listen);
    const busy = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new AgentError(
      ErrorCode.ControllerFailed,
      busy
        ? `status.listen ${where}: address already in use; stop what holds it or set status.listen to a free address`
        : `status.listen ${where}: cannot listen: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  return server;
}

/** Stops listening and drops open connections (keep-alive probes would hold close() forever). */
export function closeListener(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
