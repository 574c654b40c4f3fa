import { createServer, type Server } from 'node:http';

/** A tiny HTTP backend that answers every request with its own name and what it saw. */
export interface EchoBackend {
  name: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface EchoReply {
  name: string;
  method: string;
  path: string;
  host: string;
  headers: Record<string, string | string[] | undefined>;
}

export function startEchoBackend(name: string, host: string, port: number): Promise<EchoBackend> {
  const server: Server = createServer((req, res) => {
    const reply: EchoReply = { name, method: req.method ?? '', path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers };
    req.resume();
    req.on('end', () => {
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
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
