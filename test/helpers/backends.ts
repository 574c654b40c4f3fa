/**
 * Small HTTP backends on loopback for end-to-end tests: each answers every request with JSON
 * `{name, method, path, headers, host}` (its own name) and counts the requests it served.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface BackendReply {
  name: string;
  method: string;
  path: string;
  host: string;
  headers: IncomingHttpHeaders;
}

export interface Backend {
  name: string;
  host: string;
  port: number;
  /** host:port */
  address: string;
  /** Requests served since start (or since the last resetHits). */
  hits(): number;
  resetHits(): void;
  /** The last few requests seen (newest last, at most 100). */
  recent(): BackendReply[];
  stop(): Promise<void>;
}

export function startBackend(name: string, opts: { host?: string; port?: number } = {}): Promise<Backend> {
  const host = opts.host ?? '127.0.0.1';
  let hits = 0;
  const recent: BackendReply[] = [];
  const server: Server = createServer((req, res) => {
    const reply: BackendReply = { name, method: req.method ?? '', path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers };
    req.resume();
    req.on('end', () => {
      hits++;
      recent.push(reply);
      if (recent.length > 100) recent.shift();
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      res.end(JSON.stringify(reply) + '\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      const a = server.address();
      const port = a && typeof a === 'object' ? a.port : 0;
      resolve({
        name, host, port, address: `${host}:${port}`,
        hits: () => hits,
        resetHits: () => { hits = 0; recent.length = 0; },
        recent: () => [...recent],
        stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

/** Starts several backends at once; stop them all with stopBackends. */
export function startBackends(names: readonly string[], opts: { host?: string } = {}): Promise<Backend[]> {
  return Promise.all(names.map((n) => startBackend(n, opts)));
}

export async function stopBackends(backends: readonly Backend[]): Promise<void> {
  await Promise.all(backends.map((b) => b.stop()));
}
