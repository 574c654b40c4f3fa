/** A small JSON REST client on top of a KubeConfig (auth, TLS and server from the kubeconfig). */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface RestResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export class KubeRest {
  constructor(private readonly kc: KubeConfig) {}

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<RestResponse<T>> {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new Error('kubeconfig has no current cluster');
    const url = new URL(path, server);
    const opts: RequestOptions = { method, hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers: { accept: 'application/json' }, timeout: 15_000 };
    await this.kc.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) opts.headers = { ...opts.headers, 'content-type': contentType, 'content-length': String(payload.length) };
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: unknown = {};
          try { parsed = text ? JSON.parse(text) : {}; } catch { parsed = { text }; }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.end(payload);
    });
  }
}
