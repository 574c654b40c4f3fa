import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Metrics } from './metrics.js';

/** What the admin endpoints read; each view is a function so the server never holds stale state. */
export interface AdminViews {
  metrics: Metrics;
  /** True once the first full snapshot has been built. */
  isReady(): boolean;
  /** The registry's objects, for /debug/configz. */
  configz(): unknown;
  /** Per proxy and type sync state, for /debug/syncz. */
  syncz(): unknown;
  /** The config a proxy would get, for /debug/config_dump?proxyID=ID; undefined when unknown. */
  proxyConfig?(proxyId: string): unknown;
}

export interface AdminServer {
  /** host:port actually bound. */
  address: string;
  close(): Promise<void>;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const idx = address.lastIndexOf(':');
  if (idx < 0) throw new Error(`address "${address}": expected HOST:PORT`);
  const host = address.slice(0, idx).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(idx + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`address "${address}": bad port`);
  return { host, port };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text + '\n');
}

/** meshpilot_config_objects{kind}: the registry's valid objects, counted when scraped. */
function countConfigObjects(views: AdminViews): void {
  const objects = views.configz();
  if (!Array.isArray(objects)) return;
  const counts = new Map<string, number>();
  for (const o of objects as Array<{ kind?: unknown }>) if (typeof o?.kind === 'string') counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
  views.metrics.configObjects.reset();
  for (const [kind, n] of counts) views.metrics.configObjects.set({ kind }, n);
}

async function handle(views: AdminViews, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  switch (url.pathname) {
    case '/healthz':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    case '/ready':
      if (views.isReady()) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
      else res.writeHead(503, { 'content-type': 'text/plain' }).end('not ready: no snapshot yet\n');
      return;
    case '/metrics': {
      countConfigObjects(views);
      const body = await views.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': views.metrics.registry.contentType }).end(body);
      return;
    }
    case '/debug/configz':
      sendJson(res, 200, views.configz());
      return;
    case '/debug/syncz':
      sendJson(res, 200, views.syncz());
      return;
    case '/debug/config_dump': {
      const id = url.searchParams.get('proxyID') ?? url.searchParams.get('proxy');
      if (!id || !views.proxyConfig) return sendJson(res, 400, { error: 'query parameter proxyID is required' });
      const cfg = views.proxyConfig(id);
      if (cfg === undefined) return sendJson(res, 404, { error: `proxy ${id} is not connected` });
      sendJson(res, 200, cfg);
      return;
    }
    default:
      sendJson(res, 404, { error: 'not found', endpoints: ['/healthz', '/ready', '/metrics', '/debug/configz', '/debug/syncz', '/debug/config_dump?proxyID=ID'] });
  }
}

export function startAdminServer(address: string, views: AdminViews, logger: Logger): Promise<AdminServer> {
  const { host, port } = splitHostPort(address);
  const server: Server = createServer((req, res) => {
    handle(views, req, res).catch((err: unknown) => {
      logger.error({ err, url: req.url }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: String(err) });
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      const bound = a && typeof a === 'object' ? `${host}:${a.port}` : address;
      logger.info({ address: bound }, 'admin server listening');
      resolve({
        address: bound,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
