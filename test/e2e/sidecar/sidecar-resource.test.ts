/**
 * The Sidecar resource through real sidecars: ingress listeners (defaultEndpoint on loopback and on
 * the pod IP, TLS termination, connectionPool and inboundConnectionPool circuit breaking) on the
 * `server` pod, egress listeners (port scoping, bind with captureMode NONE) and
 * outboundTrafficPolicy.egressProxy on the `client` pod. `outside` has no sidecar.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MeshHarness, type LoopResult } from '../../helpers/mesh-harness.js';
import { podNetworkUnsupportedReason } from '../../helpers/pod-network.js';
import { eventually, selfSignedCert } from '../gateway/fixture.js';

const unsupported = podNetworkUnsupportedReason();

/**
 * N requests (one connection each), all at once or, with mode "seq", one after another; prints
 * {answering app or status or error: count}. Args: URL N [ca.pem|-] [seq].
 */
const BURST = `
const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');
const [url, n, caArg, mode] = process.argv.slice(1);
const ca = caArg && caArg !== '-' ? caArg : undefined;
const lib = url.startsWith('https:') ? https : http;
const opts = { timeout: 20000, agent: false, ...(ca ? { ca: fs.readFileSync(ca), servername: 'server.default' } : {}) };
const counts = {};
const one = () => new Promise((resolve) => {
  const req = lib.get(url, opts, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => { let k = String(res.statusCode); if (res.statusCode === 200) { try { k = JSON.parse(body).pod; } catch {} } counts[k] = (counts[k] || 0) + 1; resolve(); });
  });
  req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
  req.on('error', (e) => { const k = e.code || e.message; counts[k] = (counts[k] || 0) + 1; resolve(); });
});
const all = mode === 'seq'
  ? (async () => { for (let i = 0; i < Number(n); i++) await one(); })()
  : Promise.all(Array.from({ length: Number(n) }, one));
all.then(() => console.log(JSON.stringify(counts)));
`;

/** N sequential HTTP requests over a unix socket; prints {answering app or error: count}. Args: SOCKET HOST N. */
const UNIX_LOOP = `
const http = require('node:http');
const [socketPath, host, n] = process.argv.slice(1);
const counts = {};
const one = () => new Promise((resolve) => {
  const req = http.get({ socketPath, path: '/', headers: { host }, timeout: 5000 }, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => { let k = 'HTTP ' + res.statusCode; if (res.statusCode === 200) { try { k = JSON.parse(body).pod; } catch {} } counts[k] = (counts[k] || 0) + 1; resolve(); });
  });
  req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
  req.on('error', (e) => { const k = e.code || e.message; counts[k] = (counts[k] || 0) + 1; resolve(); });
});
(async () => { for (let i = 0; i < Number(n); i++) await one(); console.log(JSON.stringify(counts)); })();
`;

function sidecarResource(name: string, app: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name, namespace: 'default' }, spec: { workloadSelector: { labels: { app } }, ...spec } };
}

describe('Sidecar resource through real sidecars', { skip: unsupported }, () => {
  const h = new MeshHarness();
  const ip = (pod: string) => h.net.pod(pod).ip;
  let caPath = '';

  async function burst(url: string, n: number, ca?: string, mode: 'parallel' | 'seq' = 'parallel'): Promise<Record<string, number>> {
    const r = await h.net.exec('outside', process.execPath, ['-e', BURST, url, String(n), ca ?? '-', mode], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`burst failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, number>;
  }

  before(async () => {
    await h.start(['client', 'server', 'outside', 'egress', 'web']);
    const { cert, key } = selfSignedCert('server.default', ['server.default']);
    const certPath = join(h.work, 'server-cert.pem');
    const keyPath = join(h.work, 'server-key.pem');
    caPath = certPath;
    writeFileSync(certPath, cert);
    writeFileSync(keyPath, key);
    chmodSync(keyPath, 0o644); // read by Envoy as uid 1337
    const webVip = h.net.serviceIp(10);
    h.net.addHost('web', webVip);
    h.net.addHost('outside', ip('outside'));
    h.cfg.write('base.yaml', [
      ...['client', 'server'].map((p) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p, namespace: 'default', labels: { app: p } }, status: { podIP: ip(p), phase: 'Running' } })),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: webVip, ports: [{ name: 'http', port: 9080 }, { name: 'http-admin', port: 9090 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4',
        ports: [{ name: 'http', port: 9080, protocol: 'TCP' }, { name: 'http-admin', port: 9090, protocol: 'TCP' }], endpoints: [{ addresses: [ip('web')], conditions: { ready: true } }] },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'egress-proxy', namespace: 'default' }, spec: { clusterIP: h.net.serviceIp(20), ports: [{ name: 'tcp', port: 3128 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'egress-proxy-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'egress-proxy' } }, addressType: 'IPv4',
        ports: [{ name: 'tcp', port: 3128, protocol: 'TCP' }], endpoints: [{ addresses: [ip('egress')], conditions: { ready: true } }] },
      sidecarResource('server', 'server', {
        ingress: [
          { port: { number: 8080, protocol: 'HTTP', name: 'http-lo' }, defaultEndpoint: '127.0.0.1:18080' },
          { port: { number: 8081, protocol: 'HTTP', name: 'http-ip' }, defaultEndpoint: '0.0.0.0:18081' },
          { port: { number: 8085, protocol: 'HTTP', name: 'http-uds' }, defaultEndpoint: `unix://${join(h.work, 'app.sock')}` },
          { port: { number: 8443, protocol: 'HTTPS', name: 'https' }, defaultEndpoint: '127.0.0.1:18080', tls: { mode: 'SIMPLE', serverCertificate: certPath, privateKey: keyPath } },
          { port: { number: 8082, protocol: 'HTTP', name: 'http-pool' }, defaultEndpoint: '127.0.0.1:18082', connectionPool: { tcp: { maxConnections: 100 }, http: { http1MaxPendingRequests: 100 } } },
          { port: { number: 8083, protocol: 'HTTP', name: 'http-tight' }, defaultEndpoint: '127.0.0.1:18083' },
        ],
        inboundConnectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } },
      }),
    ]);
    h.httpApp('server', 'server-loopback', 18080, '127.0.0.1');
    h.httpApp('server', 'server-pod-ip', 18081, ip('server'));
    h.httpApp('server', 'server-unix-socket', 0, join(h.work, 'app.sock'));
    h.httpApp('server', 'server-slow-pool', 18082, '127.0.0.1', 400);
    h.httpApp('server', 'server-slow-tight', 18083, '127.0.0.1', 400);
    h.httpApp('web', 'web-9080', 9080);
    h.httpApp('web', 'web-9090', 9090);
    h.tcpApp('outside', 'outside', 7000);
    h.tcpApp('egress', 'egress-proxy', 3128);
    await h.sidecar('client', { app: 'client' });
    await h.sidecar('server', { app: 'server' });
  });

  after(async () => { await h.stop(); });

  // Requests one at a time: the Sidecar's inboundConnectionPool (1 connection) applies to these ports too.
  const calls = (url: string, n: number, ca?: string) => burst(url, n, ca, 'seq');

  it('ingress defaultEndpoint: 127.0.0.1:PORT reaches an app on loopback only, 0.0.0.0:PORT an app on the pod IP only, unix:///path an app on a unix socket', async () => {
    await eventually(async () => (await calls(`http://${ip('server')}:8080/`, 1))['server-loopback'] === 1, 'loopback endpoint', 30_000);
    assert.deepEqual(await calls(`http://${ip('server')}:8080/`, 10), { 'server-loopback': 10 });
    assert.deepEqual(await calls(`http://${ip('server')}:8081/`, 10), { 'server-pod-ip': 10 });
    assert.deepEqual(await calls(`http://${ip('server')}:8085/`, 10), { 'server-unix-socket': 10 });
    // The loopback app is out of reach without the sidecar's listener mapping.
    const direct = await calls(`http://${ip('server')}:18080/`, 2);
    assert.equal(direct['server-loopback'], undefined, JSON.stringify(direct));
    await h.assertNoNack();
  });

  it('ingress tls: the sidecar terminates TLS with the configured certificate (files; Istio refuses credentialName here) and the app sees plain HTTP', async () => {
    await eventually(async () => (await calls(`https://${ip('server')}:8443/`, 1, caPath))['server-loopback'] === 1, 'TLS terminated', 30_000);
    // The client verifies the certificate against the one configured (CA = that self-signed cert).
    assert.deepEqual(await calls(`https://${ip('server')}:8443/`, 10, caPath), { 'server-loopback': 10 });
    // Plain HTTP on the TLS port gets no answer from the app.
    const plain = await calls(`http://${ip('server')}:8443/`, 3);
    assert.equal(plain['server-loopback'], undefined, JSON.stringify(plain));
    await h.assertNoNack();
  });

  it('inboundConnectionPool (1 connection, 1 pending) overflows a burst of 20 with 503s; an ingress connectionPool overrides it for its port', async () => {
    const server = h.sidecars.get('server')!;
    const tight = await burst(`http://${ip('server')}:8083/`, 20);
    process.stderr.write(`inboundConnectionPool burst of 20: ${JSON.stringify(tight)}\n`);
    assert.ok((tight['503'] ?? 0) >= 10 && (tight['server-slow-tight'] ?? 0) >= 1, JSON.stringify(tight));
    assert.equal((tight['503'] ?? 0) + (tight['server-slow-tight'] ?? 0), 20, JSON.stringify(tight));
    const stats = await server.stats();
    assert.ok((stats['cluster.inbound|8083||.upstream_rq_pending_overflow'] ?? 0) >= 10, 'Envoy counts the overflow');
    const pooled = await burst(`http://${ip('server')}:8082/`, 20);
    assert.deepEqual(pooled, { 'server-slow-pool': 20 });
    await h.assertNoNack();
  });

  it('egress port: a listener with a port scopes the admitted services to that port; REGISTRY_ONLY refuses the others', async () => {
    await eventually(async () => (await h.http('client', 'http://web:9090/', {}, 1)).counts['web-9090'] === 1, 'both ports without a client Sidecar', 30_000);
    h.cfg.write('client.yaml', [sidecarResource('client', 'client', {
      egress: [{ port: { number: 9080, protocol: 'HTTP', name: 'http' }, hosts: ['./*'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    })]);
    await eventually(async () => (await h.http('client', 'http://web:9090/', {}, 1)).counts['web-9090'] === undefined, 'port 9090 scoped away', 30_000);
    assert.deepEqual(await h.http('client', 'http://web:9080/', {}, 10), { counts: { 'web-9080': 10 }, failures: [] });
    const r: LoopResult = await h.http('client', 'http://web:9090/', {}, 3);
    assert.equal(r.failures.length, 3, JSON.stringify(r));
    await h.assertNoNack();
  });

  it('egress bind + captureMode NONE: the app calls the listener bound on its pod IP (or on a unix socket), which routes by host', async () => {
    const sockDir = join(h.work, 'egress-uds');
    mkdirSync(sockDir, { mode: 0o777 });
    chmodSync(sockDir, 0o777); // Envoy (uid 1337) creates the socket here
    const sock = join(sockDir, 'egress.sock');
    h.cfg.write('client.yaml', [sidecarResource('client', 'client', {
      egress: [
        { port: { number: 9080, protocol: 'HTTP', name: 'http' }, bind: ip('client'), captureMode: 'NONE', hosts: ['./*'] },
        { port: { number: 9090, protocol: 'HTTP', name: 'http-admin' }, bind: `unix://${sock}`, captureMode: 'NONE', hosts: ['./*'] },
        { hosts: ['./*'] },
      ],
    })]);
    const url = `http://${ip('client')}:9080/`;
    await eventually(async () => (await h.http('client', url, { host: 'web:9080' }, 1)).counts['web-9080'] === 1, 'bound egress listener', 30_000);
    assert.deepEqual(await h.http('client', url, { host: 'web.default.svc.cluster.local:9080' }, 10), { counts: { 'web-9080': 10 }, failures: [] });
    const overUnix = async (n: number) => {
      const r = await h.net.exec('client', process.execPath, ['-e', UNIX_LOOP, sock, 'web:9090', String(n)], { timeoutMs: 60_000 });
      return JSON.parse(r.stdout) as Record<string, number>;
    };
    await eventually(async () => (await overUnix(1))['web-9090'] === 1, 'unix socket egress listener', 30_000);
    assert.deepEqual(await overUnix(10), { 'web-9090': 10 });
    await h.assertNoNack();
  });

  it('outboundTrafficPolicy.egressProxy: traffic to unknown destinations goes to the egress proxy service instead of passing through', async () => {
    h.cfg.write('client.yaml', [sidecarResource('client', 'client', {})]);
    await eventually(async () => (await h.tcp('client', 'outside', 7000, 1)).outside === 1, 'passthrough to outside', 30_000);
    h.cfg.write('client.yaml', [sidecarResource('client', 'client', { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'egress-proxy', port: { number: 3128 } } } })]);
    await eventually(async () => (await h.tcp('client', 'outside', 7000, 1))['egress-proxy'] === 1, 'egress proxy takes unknown traffic', 30_000);
    assert.deepEqual(await h.tcp('client', 'outside', 7000, 10), { 'egress-proxy': 10 });
    // Known services are not affected.
    assert.deepEqual(await h.http('client', 'http://web:9080/', {}, 5), { counts: { 'web-9080': 5 }, failures: [] });
    await h.assertNoNack();
  });
});
