/**
 * Local HTTP endpoint: / (the status page), /livez, /readyz (?verbose), /status, /status/history,
 * /metrics. Bound to loopback unless
 * the config explicitly allows a remote address (checked at config validation); while remote is
 * not allowed, a request whose Host is not a loopback name or address gets 421 (host-check.ts).
 */
import type { Server } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { Registry } from 'prom-client';
import { isLoopbackHost, refusedHostMessage } from './host-check.js';
import { PAGE_HEADERS, renderStatusPage } from './page.js';
import type { StatusDocument, StatusHistory } from './status-document.js';

export interface ReadyCheck {
  name: string;
  ready: boolean;
  reason?: string;
}

export interface StatusSource {
  readiness(): ReadyCheck[];
  status(): StatusDocument;
  /** The status page's series (history.ts); none when the source keeps none. */
  history?(): StatusHistory;
}

const NO_HISTORY: StatusHistory = { intervalSeconds: 0, windowSeconds: 0, points: [] };

export interface StatusServerOptions {
  source: StatusSource;
  metrics: Registry;
  /** status.allowRemote: the endpoint is meant for other hosts, under whatever name they use. */
  allowRemote: boolean;
}

export function buildStatusApp(options: StatusServerOptions, serverFactory?: FastifyServerFactory): FastifyInstance {
  // Request logging stays off: a health probe every few seconds would drown the journal.
  const app = Fastify({ logger: false, return503OnClosing: true, ...(serverFactory === undefined ? {} : { serverFactory }) });

  if (!options.allowRemote) {
    app.addHook('onRequest', async (req, reply) => {
      if (isLoopbackHost(req.headers.host)) return;
      await reply.code(421).type('text/plain').send(refusedHostMessage(req.headers.host));
    });
  }

  app.get('/livez', async (_req, reply) => reply.type('text/plain').send('ok\n'));

  app.get('/readyz', async (req, reply) => {
    const checks = options.source.readiness();
    const ready = checks.every((c) => c.ready);
    reply.code(ready ? 200 : 503).type('text/plain');
    if (!Object.hasOwn(req.query as object, 'verbose')) return reply.send(ready ? 'ok\n' : 'not ready\n');
    const lines = checks.map((c) => (c.ready ? `[+]${c.name} ok${c.reason === undefined ? '' : ` (${c.reason})`}` : `[-]${c.name} failed: ${c.reason ?? 'not ready'}`));
    if (checks.length === 0) lines.push('[+]no controllers enabled');
    lines.push(`readyz check ${ready ? 'passed' : 'failed'}`);
    return reply.send(`${lines.join('\n')}\n`);
  });

  app.get('/status', async (_req, reply) => reply.type('application/json').send(options.source.status()));

  const history = (): StatusHistory => options.source.history?.() ?? NO_HISTORY;
  app.get('/status/history', async (_req, reply) => reply.type('application/json').header('cache-control', 'no-store').send(history()));

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').headers(PAGE_HEADERS).send(renderStatusPage(options.source.status(), history(), Date.now())));

  app.get('/metrics', async (_req, reply) => {
    const body = await options.metrics.metrics();
    return reply.type(options.metrics.contentType).send(body);
  });

  return app;
}

export interface StatusServer {
  close(): Promise<void>;
}

/**
 * Takes over `listener` (listener.ts: bound, answering "starting"): from now on fastify answers on
 * it. The socket stays its binder's to close.
 */
export async function startStatusServer(listener: Server, options: StatusServerOptions): Promise<StatusServer> {
  const app = buildStatusApp(options, (handler) => {
    listener.removeAllListeners('request');
    listener.on('request', handler);
    return listener;
  });
  await app.ready();
  return { close: () => app.close() };
}
