/**
 * The validating admission webhook (HTTPS, POST /validate): the same validation as `meshpilot
 * validate` and the sources, so `kubectl apply` of an invalid object is refused with its field path.
 */
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import { isIstioKind, validateResource } from '../api/index.js';
import type { Logger } from '../log.js';
import { splitHostPort } from './server.js';

interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid: string; kind?: { kind?: string }; operation?: string; object?: Record<string, unknown> };
}

/** The AdmissionReview response for a request: allowed, or refused with every error's path and message. */
export function reviewAdmission(review: AdmissionReview): Record<string, unknown> {
  const req = review.request;
  const uid = req?.uid ?? '';
  const base = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' };
  const obj = req?.object;
  if (!obj || req?.operation === 'DELETE' || !isIstioKind(String(obj.kind ?? req?.kind?.kind ?? ''))) {
    return { ...base, response: { uid, allowed: true } };
  }
  const r = validateResource(obj);
  if (r.ok) {
    return { ...base, response: { uid, allowed: true, ...(r.warnings.length ? { warnings: r.warnings.map((w) => `${w.path}: ${w.message}`) } : {}) } };
  }
  const meta = obj.metadata as { name?: string; namespace?: string } | undefined;
  const message = `${String(obj.kind)} ${meta?.namespace ?? 'default'}/${meta?.name ?? '?'} is invalid: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
  return { ...base, response: { uid, allowed: false, status: { code: 400, reason: 'Invalid', message } } };
}

export interface WebhookServer {
  address: string;
  close(): Promise<void>;
}

export function startWebhookServer(address: string, certFile: string, keyFile: string, logger: Logger): Promise<WebhookServer> {
  const { host, port } = splitHostPort(address);
  const server: Server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/validate')) {
      res.writeHead(404).end();
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; if (body.length > 8 * 1024 * 1024) req.destroy(); });
    req.on('end', () => {
      let out: Record<string, unknown>;
      try {
        out = reviewAdmission(JSON.parse(body) as AdmissionReview);
      } catch (err) {
        logger.warn({ err: String(err) }, 'bad admission review');
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad AdmissionReview' }));
        return;
      }
      const resp = out.response as { allowed: boolean; status?: { message: string } };
      if (!resp.allowed) logger.info({ message: resp.status?.message }, 'admission refused');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      const bound = a && typeof a === 'object' ? `${host}:${a.port}` : address;
      logger.info({ address: bound }, 'admission webhook listening');
      resolve({ address: bound, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    });
  });
}
