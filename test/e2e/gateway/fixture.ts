/** A file-mode config folder for gateway tests: backends on loopback, Istio objects written as YAML. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { stringify } from 'yaml';
import type { EchoBackend } from '../../../src/cli/echo-backend.js';

export const GATEWAY_NODE = 'router~127.0.0.1~ingressgateway-0.istio-system~istio-system.svc.cluster.local';
export const GATEWAY_LABELS = { istio: 'ingressgateway' };

export class ConfigDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'meshpilot-config-'));
  /** Writes atomically (rename), as editors and kubectl-like tools do. */
  write(file: string, docs: unknown[] | string): void {
    const text = typeof docs === 'string' ? docs : docs.map((d) => stringify(d)).join('---\n');
    const tmp = join(this.dir, `.${file}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(this.dir, file));
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Kubernetes Service whose workloads are the given backends (one EndpointSlice + Pod each, file mode). */
export function serviceWithBackends(name: string, backends: Array<{ backend: EchoBackend; labels: Record<string, string> }>, port = 9080): unknown[] {
  const docs: unknown[] = [{ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'http', port }] } }];
  backends.forEach(({ backend, labels }) => {
    const pod = backend.name;
    docs.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default', labels: { app: name, ...labels } }, status: { podIP: backend.host } });
    docs.push({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${pod}-slice`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'http', port: backend.port, protocol: 'TCP' }],
      endpoints: [{ addresses: [backend.host], conditions: { ready: true }, targetRef: { kind: 'Pod', name: pod, namespace: 'default' } }],
    });
  });
  return docs;
}

export function subsetsRule(host: string, versions: string[]): unknown {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: host, namespace: 'default' }, spec: { host, subsets: versions.map((v) => ({ name: v, labels: { version: v } })) } };
}

export interface Reply { status: number; body: string; headers: Record<string, string | string[] | undefined> }

/** One request on a fresh connection to `address` (default 127.0.0.1):port; `localAddress` picks the client's source address. */
export function get(port: number, path: string, headers: Record<string, string> = {}, opts: { method?: string; timeoutMs?: number; address?: string; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: opts.address ?? '127.0.0.1', port, path, method: opts.method ?? 'GET', headers, agent: false, timeout: opts.timeoutMs ?? 5000, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Which backend answered (its name), or "HTTP <status>". */
export async function who(port: number, host: string, headers: Record<string, string> = {}, path = '/'): Promise<string> {
  const r = await get(port, path, { host, ...headers });
  if (r.status !== 200) return `HTTP ${r.status}`;
  return (JSON.parse(r.body) as { name: string }).name;
}

export { eventually } from '../../helpers/wait.js';

/** A self-signed certificate + key for the given DNS names (openssl), as PEM strings. */
export function selfSignedCert(cn: string, dnsNames: string[]): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}`, '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function tlsSecret(name: string, namespace: string, c: { cert: string; key: string }): unknown {
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace }, data: { 'tls.crt': Buffer.from(c.cert).toString('base64'), 'tls.key': Buffer.from(c.key).toString('base64') } };
}

/** Syncz reports no NACK for any proxy and type. */
export function nacksIn(syncz: Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>): string[] {
  const out: string[] = [];
  for (const p of syncz) for (const [t, s] of Object.entries(p.types)) if (s.lastNack) out.push(`${p.id} ${t}: ${JSON.stringify(s.lastNack)}`);
  return out;
}
