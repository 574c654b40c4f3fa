import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

/** A tiny HTTP backend that answers every request with its own name and what it saw. */
export interface EchoReply {
  name: string;
  method: string;
  path: string;
  host: string;
  headers: IncomingHttpHeaders;
}

export interface EchoBackend {
  name: string;
  host: string;
  port: number;
  /** Requests served since start (or since the last resetHits). */
  hits(): number;
  resetHits(): void;
  /** The last requests seen (newest last, at most 100). */
  recent(): EchoReply[];
  close(): Promise<void>;
}

export function startEchoBackend(name: string, host: string, port: number): Promise<EchoBackend> {
  let hits = 0;
  const recent: EchoReply[] = [];
  const server: Server = createServer((req, res) => {
    const reply: EchoReply = { name, method: req.method ?? '', path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers };
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
    server.listen(port, host, () => {
      const a = server.address();
      resolve({
        name, host, port: a && typeof a === 'object' ? a.port : port,
        hits: () => hits,
        resetHits: () => { hits = 0; recent.length = 0; },
        recent: () => [...recent],
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
