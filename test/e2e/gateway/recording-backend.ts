/** A loopback HTTP backend for gateway tests that records what it receives; its answer per request can be scripted. */
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface Seen { name: string; method: string; path: string; headers: IncomingMessage['headers'] }

export interface Behaviour { status?: number; delayMs?: number; headers?: Record<string, string> }

export class Backend {
  readonly seen: Seen[] = [];
  server!: Server;
  port = 0;
  behave: (req: IncomingMessage, n: number) => Behaviour = () => ({});
  constructor(readonly name: string) {}
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.seen.push({ name: this.name, method: req.method ?? '', path: req.url ?? '', headers: req.headers });
      const b = this.behave(req, this.seen.length);
      req.resume();
      setTimeout(() => {
        res.writeHead(b.status ?? 200, { 'content-type': 'application/json', 'x-backend': this.name, server: 'test-backend', ...b.headers });
        res.end(JSON.stringify({ name: this.name, path: req.url, headers: req.headers }));
      }, b.delayMs ?? 0);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.port = a && typeof a === 'object' ? a.port : 0;
  }
  close(): Promise<void> {
    return new Promise((r) => { this.server.closeAllConnections(); this.server.close(() => r()); });
  }
}
