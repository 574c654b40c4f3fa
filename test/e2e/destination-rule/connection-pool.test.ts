/**
 * DestinationRule connectionPool settings that shape upstream connections, seen by counting the
 * backend's connections through a real gateway Envoy: http.idleTimeout and tcp.maxConnectionDuration
 * close pooled connections; h2UpgradePolicy UPGRADE speaks HTTP/2 to the backend; maxConcurrentStreams
 * caps streams per HTTP/2 connection (more connections under concurrency).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect as h2connect, createServer as createH2Server, type Http2Server } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn } from '../gateway/fixture.js';

/** An HTTP/1.1 or h2c backend that counts connections and reports the protocol it was spoken to in. */
class CountingBackend {
  connections = 0;
  port = 0;
  private server?: Server | Http2Server;
  hits = 0;
  constructor(private readonly h2 = false, private readonly delayMs = 0, private readonly status = 200) {}
  async start(): Promise<this> {
    const handler = (req: { httpVersion: string; resume(): void }, res: { writeHead(s: number, h: Record<string, string>): { end(b: string): void } }) => {
      req.resume();
      this.hits++;
      setTimeout(() => res.writeHead(this.status, { 'content-type': 'application/json' }).end(JSON.stringify({ httpVersion: req.httpVersion })), this.delayMs);
    };
    const server = this.h2 ? createH2Server(handler) : createServer(handler);
    server.on('connection', () => this.connections++);
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.port = (server.address() as { port: number }).port;
    return this;
  }
  close(): Promise<void> {
    const s = this.server as Server | undefined;
    return new Promise((r) => { (s as Server & { closeAllConnections?: () => void })?.closeAllConnections?.(); this.server?.close(() => r()); setTimeout(r, 1000); });
  }
}

describe('DestinationRule connectionPool on upstream connections', () => {
  const cfg = new ConfigDir();
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  const b = {
    idle: new CountingBackend(), keep: new CountingBackend(), lifetime: new CountingBackend(),
    h1: new CountingBackend(), ka: new CountingBackend(), clientH2: new CountingBackend(true), clientH1: new CountingBackend(), fixedH1: new CountingBackend(),
    failing: new CountingBackend(false, 200, 503), failingCapped: new CountingBackend(false, 200, 503), capped: new CountingBackend(true, 400), h2: new CountingBackend(true), streams: new CountingBackend(true, 400), shared: new CountingBackend(true, 400),
  };

  // A listener that never accepts, its accept queue already full: new connections hang in SYN-SENT.
  let stuck: ChildProcess;
  let stuckPort = 0;

  before(async () => {
    for (const x of Object.values(b)) await x.start();
    stuck = spawn('python3', ['-c', [
      'import socket, sys, time',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
      'fill = []',
      'for _ in range(3):',
      '    try: fill.append(socket.create_connection(s.getsockname(), timeout=0.5))',
      '    except OSError: pass',
      'print(s.getsockname()[1], flush=True)',
      'time.sleep(120)',
    ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
    stuckPort = await new Promise<number>((resolve) => stuck.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    port = await freePort();
    const names = Object.keys(b) as Array<keyof typeof b>;
    const entry = (name: keyof typeof b) => ({
      apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
      spec: { hosts: [`${name}.internal`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: b[name].port }], endpoints: [{ address: '127.0.0.1' }] },
    });
    const rule = (name: keyof typeof b, connectionPool: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' }, spec: { host: `${name}.internal`, trafficPolicy: { connectionPool } } });
    cfg.write('config.yaml', [
      ...names.map(entry),
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'stuck', namespace: 'default' },
        spec: { hosts: ['stuck.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: stuckPort }], endpoints: [{ address: '127.0.0.1' }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'stuck', namespace: 'default' }, spec: { host: 'stuck.internal', trafficPolicy: { connectionPool: { tcp: { connectTimeout: '300ms' } } } } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'stuck', namespace: 'default' },
        spec: { hosts: ['stuck.example.com'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'stuck.internal', port: { number: 80 } } }], retries: { attempts: 0 } }] } },
      rule('clientH2', { http: { useClientProtocol: true } }),
      rule('clientH1', { http: { useClientProtocol: true } }),
      rule('failingCapped', { http: { maxRetries: 1 } }),
      rule('capped', { http: { h2UpgradePolicy: 'UPGRADE', http2MaxRequests: 1 } }),
      rule('ka', { tcp: { tcpKeepalive: { time: '7s', interval: '3s', probes: 4 } } }),
      rule('idle', { http: { idleTimeout: '300ms' } }),
      rule('lifetime', { tcp: { maxConnectionDuration: '400ms' } }),
      rule('h2', { http: { h2UpgradePolicy: 'UPGRADE' } }),
      rule('streams', { http: { h2UpgradePolicy: 'UPGRADE', maxConcurrentStreams: 1 } }),
      rule('shared', { http: { h2UpgradePolicy: 'UPGRADE' } }),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
        spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } },
      ...names.map((n) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: n, namespace: 'default' },
        spec: { hosts: [`${n}.example.com`], gateways: ['gw'], http: [{ route: [{ destination: { host: `${n}.internal`, port: { number: 80 } } }], ...(n.startsWith('failing') ? { retries: { attempts: 3, retryOn: '5xx' } } : {}) }] } })),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await get(port, '/', { host: 'keep.example.com' })).status === 200, 'routes ready', 20_000);
  });

  after(async () => {
    stuck?.kill('SIGKILL');
    await envoy?.stop();
    await mp?.stop();
    for (const x of Object.values(b)) await x.close();
    cfg.remove();
  });

  const call = (host: string) => get(port, '/', { host: `${host}.example.com` });
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('http.idleTimeout closes an idle upstream connection; without it the connection is reused', async () => {
    const newAfterPause: Record<string, number> = {};
    for (const host of ['idle', 'keep'] as const) {
      assert.equal((await call(host)).status, 200);
      const afterFirst = b[host].connections;
      await pause(900);
      assert.equal((await call(host)).status, 200);
      newAfterPause[host] = b[host].connections - afterFirst;
    }
    assert.deepEqual(newAfterPause, { idle: 1, keep: 0 }, 'idleTimeout 300 ms: a new connection after 900 ms idle; without it the pooled one is reused');
  });

  it('tcp.maxConnectionDuration ends a connection after its lifetime even while in use', async () => {
    const before = b.lifetime.connections;
    for (let i = 0; i < 6; i++) { assert.equal((await call('lifetime')).status, 200); await pause(200); }
    assert.ok(b.lifetime.connections - before >= 2, `${b.lifetime.connections - before} connections over ~1.2 s with a 400 ms lifetime`);
  });

  it('tcp.connectTimeout: a backend that never completes the handshake fails after 300 ms (Istio default: 10 s)', async () => {
    const t0 = Date.now();
    const r = await call('stuck');
    const took = Date.now() - t0;
    assert.equal(r.status, 503);
    assert.ok(took < 3000, `failed after ${took} ms`);
    const stats = await envoy.stats('stuck.internal');
    assert.ok((stats['cluster.outbound|80||stuck.internal.upstream_cx_connect_timeout'] ?? 0) >= 1, JSON.stringify(stats).slice(0, 400));
  });

  it('tcp.tcpKeepalive turns on keepalive for the upstream socket (the kernel shows its timer); without it there is none', async () => {
    assert.equal((await call('ka')).status, 200);
    assert.equal((await call('keep')).status, 200);
    const sockets = (p: number) => execFileSync('ss', ['-tnoH', 'state', 'established', `( dport = :${p} )`], { encoding: 'utf8' });
    assert.match(sockets(b.ka.port), /timer:\(keepalive,/, 'keepalive timer on the connection to the ka backend');
    const plain = sockets(b.keep.port);
    assert.ok(plain.trim().length > 0, 'a pooled connection to the keep backend exists');
    assert.doesNotMatch(plain, /keepalive/);
  });

  it('useClientProtocol: an h2c client reaches the backend over HTTP/2, an HTTP/1.1 client over HTTP/1.1; without it HTTP/1.1', async () => {
    const viaH2 = (host: string) => new Promise<string>((resolve, reject) => {
      const session = h2connect(`http://127.0.0.1:${port}`);
      session.on('error', reject);
      const req = session.request({ ':path': '/', ':authority': `${host}.example.com` });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => { session.close(); resolve((JSON.parse(body) as { httpVersion: string }).httpVersion); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(await viaH2('clientH2'), '2.0');
    assert.equal((JSON.parse((await call('clientH1')).body) as { httpVersion: string }).httpVersion, '1.1');
    assert.equal(await viaH2('fixedH1'), '1.1', 'without useClientProtocol Envoy speaks HTTP/1.1 upstream even to an h2 client');
  });

  it('http.maxRetries 1: four requests failing at once may not all retry (retry overflow); without the cap all retry three times', async () => {
    for (const host of ['failing', 'failingCapped']) {
      const replies = await Promise.all([0, 1, 2, 3].map(() => call(host)));
      for (const r of replies) assert.equal(r.status, 503);
    }
    assert.equal(b.failing.hits, 16, '4 requests × (1 + 3 retries)');
    assert.ok(b.failingCapped.hits < 16, `${b.failingCapped.hits} attempts with at most one retry outstanding`);
    const stats = await envoy.stats('failingCapped.internal');
    assert.ok((stats['cluster.outbound|80||failingCapped.internal.upstream_rq_retry_overflow'] ?? 0) >= 1, JSON.stringify(stats).slice(0, 300));
  });

  it('http.http2MaxRequests 1: of four concurrent requests three overflow with 503', async () => {
    const replies = await Promise.all([0, 1, 2, 3].map(() => call('capped')));
    const statuses = replies.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 503, 503, 503]);
    for (const r of replies.filter((x) => x.status === 503)) assert.equal(r.headers['x-envoy-overloaded'], 'true');
  });

  it('h2UpgradePolicy UPGRADE speaks HTTP/2 to the backend; the default stays on HTTP/1.1', async () => {
    assert.equal((JSON.parse((await call('h2')).body) as { httpVersion: string }).httpVersion, '2.0');
    assert.equal((JSON.parse((await call('h1')).body) as { httpVersion: string }).httpVersion, '1.1');
  });

  it('maxConcurrentStreams 1: four concurrent slow requests need four HTTP/2 connections; unlimited shares one', async () => {
    for (const host of ['streams', 'shared'] as const) {
      const before = b[host].connections;
      const replies = await Promise.all([0, 1, 2, 3].map(() => call(host)));
      for (const r of replies) assert.equal(r.status, 200);
      b[host].connections -= before;
    }
    assert.equal(b.streams.connections, 4);
    assert.equal(b.shared.connections, 1);
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });
});
