/**
 * More VirtualService HTTP rows through one real gateway Envoy (two HTTP ports): matches on scheme,
 * authority, headers (exact/regex/presence), port, gateways and sourceNamespace, OR between match
 * blocks and AND inside one; destination port selection and per-destination headers; response
 * header operations; every redirect field; direct responses with string and bytes bodies; full-path
 * rewrite; Istio's default retry policy; gRPC retryOn names and gRPC fault aborts; CORS credentials,
 * exposed headers, max age, prefix origins and unmatched preflights.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createH2Server, type Http2Server, type IncomingHttpHeaders as H2Headers } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { startBackend, type Backend } from '../../helpers/backends.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, type Reply } from './fixture.js';

const API = 'networking.istio.io/v1';
type Obj = Record<string, unknown>;

const reply = (body: string, status = 200): Obj => ({ directResponse: { status, body: { string: body } } });
const vs = (name: string, hosts: string[], http: Obj[], gateways = ['gw']): Obj =>
  ({ apiVersion: API, kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts, gateways, http } });
const to = (host: string, port = 80, extra: Obj = {}): Obj => ({ destination: { host, port: { number: port } }, ...extra });

/** An HTTP/1.1 backend answering 503 to its first request, then 200; counts requests. */
async function startFailOnce(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(hits === 1 ? 503 : 200, { 'content-type': 'text/plain' });
    res.end(hits === 1 ? 'fail' : 'ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return { port: a && typeof a === 'object' ? a.port : 0, hits: () => hits, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** An h2c gRPC-shaped backend: trailers-only UNAVAILABLE (14) for its first request, then OK (0). */
async function startGrpcFailOnce(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Http2Server = createH2Server();
  server.on('stream', (stream) => {
    hits++;
    stream.resume();
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': hits === 1 ? '14' : '0' }, { endStream: true });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return { port: a && typeof a === 'object' ? a.port : 0, hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

/** One gRPC-shaped request over h2c (prior knowledge): the response headers. */
function grpcCall(port: number, host: string, path: string): Promise<H2Headers> {
  return new Promise((resolve, reject) => {
    const client = connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const req = client.request({ ':method': 'POST', ':path': path, ':authority': host, 'content-type': 'application/grpc', te: 'trailers' });
    const timer = setTimeout(() => { client.destroy(); reject(new Error('grpc call timeout')); }, 10_000);
    let headers: H2Headers = {};
    req.on('response', (h) => { headers = { ...h }; });
    req.on('trailers', (t) => { headers = { ...headers, ...t }; });
    req.on('error', (e) => { clearTimeout(timer); client.close(); reject(e); });
    req.on('end', () => { clearTimeout(timer); client.close(); resolve(headers); });
    req.resume();
    req.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}

describe('more VirtualService HTTP features through one real gateway Envoy', () => {
  const cfg = new ConfigDir();
  let a: Backend;
  let b: Backend;
  let flaky: Awaited<ReturnType<typeof startFailOnce>>;
  let grpc: Awaited<ReturnType<typeof startGrpcFailOnce>>;
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let p1: number;
  let p2: number;
  const send = (host: string, path: string, headers: Record<string, string> = {}, opts: { port?: number; method?: string } = {}): Promise<Reply> =>
    get(opts.port ?? p1, path, { host, ...headers }, { method: opts.method ?? 'GET', timeoutMs: 10_000 });
  const body = async (host: string, path: string, headers: Record<string, string> = {}, opts: { port?: number; method?: string } = {}) => (await send(host, path, headers, opts)).body;
  const backendOf = (r: Reply): string => (JSON.parse(r.body) as { name: string }).name;
  const seenHeaders = (r: Reply): IncomingHttpHeaders => (JSON.parse(r.body) as { headers: IncomingHttpHeaders }).headers;

  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
    flaky = await startFailOnce();
    grpc = await startGrpcFailOnce();
    p1 = await freePort();
    p2 = await freePort();
    const se = (name: string, host: string, ports: Obj[], endpointPorts: Record<string, number>): Obj => ({ apiVersion: API, kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
      spec: { hosts: [host], location: 'MESH_INTERNAL', resolution: 'STATIC', ports, endpoints: [{ address: '127.0.0.1', ports: endpointPorts }] } });
    const http80 = [{ number: 80, name: 'http', protocol: 'HTTP' }];
    cfg.write('base.yaml', [
      se('a', 'a.test.internal', http80, { http: a.port }),
      se('b', 'b.test.internal', http80, { http: b.port }),
      se('flaky', 'flaky.test.internal', http80, { http: flaky.port }),
      se('grpc', 'grpc.test.internal', [{ number: 80, name: 'grpc', protocol: 'GRPC' }], { grpc: grpc.port }),
      // Two ports, two workloads' ports: the destination port decides.
      se('multi', 'multi.test.internal', [{ number: 80, name: 'http-a', protocol: 'HTTP' }, { number: 81, name: 'http-b', protocol: 'HTTP' }], { 'http-a': a.port, 'http-b': b.port }),
      { apiVersion: API, kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [
        { port: { number: p1, name: 'http-1', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] },
        { port: { number: p2, name: 'http-2', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] },
      ] } },
    ]);
    cfg.write('routes.yaml', [
      vs('match', ['match.example.com'], [
        { match: [{ scheme: { exact: 'https' } }], ...reply('https') },
        { match: [{ uri: { prefix: '/scheme' }, scheme: { exact: 'http' } }], ...reply('http') },
        { match: [{ headers: { 'x-e': { exact: 'v' } } }], ...reply('h-exact') },
        { match: [{ headers: { 'x-r': { regex: '[0-9]+' } } }], ...reply('h-regex') },
        { match: [{ headers: { 'x-p': {} } }], ...reply('h-present') },
        { match: [{ uri: { prefix: '/port' }, port: p2 }], ...reply('port-2') },
        { match: [{ uri: { prefix: '/port' }, port: p1 }], ...reply('port-1') },
        { match: [{ uri: { prefix: '/or1' } }, { uri: { prefix: '/or2' } }], ...reply('or') },
        { match: [{ uri: { prefix: '/and' }, headers: { 'x-and': { exact: '1' } }, queryParams: { q: { exact: '1' } } }], ...reply('and') },
        reply('fallback', 418),
      ]),
      vs('authority', ['*.auth.example.com'], [
        { match: [{ authority: { exact: 'one.auth.example.com' } }], ...reply('a-exact') },
        { match: [{ authority: { prefix: 'pre' } }], ...reply('a-prefix') },
        { match: [{ authority: { regex: 'r[0-9]+\\.auth\\.example\\.com' } }], ...reply('a-regex') },
        reply('a-fallback', 418),
      ]),
      // Bound to the mesh and the gateway: per-match gateways and sourceNamespace pick the gateway's routes.
      vs('source', ['source.example.com'], [
        { match: [{ gateways: ['mesh'] }], ...reply('mesh-only') },
        { match: [{ uri: { prefix: '/ns' }, sourceNamespace: 'other' }], ...reply('other-ns') },
        { match: [{ uri: { prefix: '/ns' }, sourceNamespace: 'istio-system' }], ...reply('gateway-ns') },
        { match: [{ gateways: ['gw'] }], ...reply('gateway-only') },
      ], ['mesh', 'gw']),
      vs('dest', ['dest.example.com'], [
        { match: [{ uri: { prefix: '/port81' } }], route: [to('multi.test.internal', 81)] },
        { match: [{ uri: { prefix: '/port80' } }], route: [to('multi.test.internal', 80)] },
        { match: [{ uri: { prefix: '/split' } }], route: [
          to('a.test.internal', 80, { weight: 50, headers: { request: { set: { 'x-which': 'a' } }, response: { add: { 'x-resp-dest': 'a' } } } }),
          to('b.test.internal', 80, { weight: 50, headers: { request: { set: { 'x-which': 'b' } }, response: { add: { 'x-resp-dest': 'b' } } } }),
        ] },
        { match: [{ uri: { exact: '/exact-old' } }], rewrite: { uri: '/completely/new' }, route: [to('a.test.internal')] },
        { route: [to('a.test.internal')], headers: { response: { add: { 'x-resp-added': 'yes' }, set: { 'x-resp-set': 'set' }, remove: ['x-backend'] } } },
      ]),
      vs('redirect', ['redir.example.com'], [
        { match: [{ uri: { prefix: '/r-uri' } }], redirect: { uri: '/new' } },
        { match: [{ uri: { prefix: '/r-auth' } }], redirect: { authority: 'other.example.com' } },
        { match: [{ uri: { prefix: '/r-port' } }], redirect: { port: 8443 } },
        { match: [{ uri: { prefix: '/r-derive' } }], redirect: { derivePort: 'FROM_REQUEST_PORT' } },
        { match: [{ uri: { prefix: '/r-scheme' } }], redirect: { scheme: 'https' } },
        { match: [{ uri: { prefix: '/r-code' } }], redirect: { uri: '/c', redirectCode: 302 } },
        { match: [{ uri: { prefix: '/bytes' } }], directResponse: { status: 202, body: { bytes: Buffer.from('hello bytes').toString('base64') } } },
        reply('unavailable text', 503),
      ]),
      vs('retry', ['retry.example.com'], [
        { match: [{ uri: { prefix: '/grpc.Svc/Abort' } }], fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, route: [to('grpc.test.internal')] },
        { match: [{ uri: { prefix: '/grpc.Svc/' } }], retries: { attempts: 2, retryOn: 'cancelled,deadline-exceeded,internal,resource-exhausted,unavailable' }, route: [to('grpc.test.internal')] },
        // No retries field: Istio's default policy (2 retries, 503 among the conditions).
        { route: [to('flaky.test.internal')] },
      ]),
      vs('cors', ['cors.example.com'], [{ route: [to('a.test.internal')], corsPolicy: {
        allowOrigins: [{ prefix: 'https://pre.' }], allowMethods: ['GET', 'PUT'], allowCredentials: true, exposeHeaders: ['x-exposed'], maxAge: '2h',
      } }]),
      vs('cors-ignore', ['cors-ignore.example.com'], [{ route: [to('b.test.internal')], corsPolicy: { allowOrigins: [{ exact: 'https://ok.example.org' }], allowMethods: ['GET'], unmatchedPreflights: 'IGNORE' } }]),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await send('match.example.com', '/nothing')).status === 418 && (await send('match.example.com', '/nothing', {}, { port: p2 })).status === 418, 'routes loaded on both ports');
  });

  after(async () => {
    const syncz = await mp.getJson<Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz');
    assert.deepEqual(nacksIn(syncz), [], 'no NACK');
    await envoy?.stop();
    await mp?.stop();
    await a?.stop();
    await b?.stop();
    await flaky?.close();
    await grpc?.close();
    cfg.remove();
  });

  it('match: scheme, headers exact/regex/presence, port, OR between blocks, AND within a block', async () => {
    assert.equal(await body('match.example.com', '/scheme'), 'http', 'plain HTTP is scheme http, not https');
    assert.equal(await body('match.example.com', '/h', { 'x-e': 'v' }), 'h-exact');
    assert.equal(await body('match.example.com', '/h', { 'x-e': 'w' }), 'fallback');
    assert.equal(await body('match.example.com', '/h', { 'x-r': '123' }), 'h-regex');
    assert.equal(await body('match.example.com', '/h', { 'x-r': '12a' }), 'fallback', 'the regex must match the whole value');
    assert.equal(await body('match.example.com', '/h', { 'x-p': '' }), 'h-present', 'presence: any value, even empty');
    assert.equal(await body('match.example.com', '/port'), 'port-1');
    assert.equal(await body('match.example.com', '/port', {}, { port: p2 }), 'port-2');
    assert.equal(await body('match.example.com', '/or1'), 'or');
    assert.equal(await body('match.example.com', '/or2'), 'or');
    assert.equal(await body('match.example.com', '/and?q=1', { 'x-and': '1' }), 'and');
    assert.equal(await body('match.example.com', '/and?q=1'), 'fallback', 'every condition of a block must hold');
    assert.equal(await body('match.example.com', '/and', { 'x-and': '1' }), 'fallback');
  });

  it('match: authority exact, prefix and regex', async () => {
    assert.equal(await body('one.auth.example.com', '/'), 'a-exact');
    assert.equal(await body('prefixed.auth.example.com', '/'), 'a-prefix');
    assert.equal(await body('r42.auth.example.com', '/'), 'a-regex');
    assert.equal(await body('other.auth.example.com', '/'), 'a-fallback');
  });

  it('match: per-match gateways and sourceNamespace on a VirtualService bound to mesh and a gateway', async () => {
    assert.equal(await body('source.example.com', '/'), 'gateway-only', 'a gateways: [mesh] block does not apply on the gateway');
    assert.equal(await body('source.example.com', '/ns'), 'gateway-ns', "sourceNamespace is the gateway proxy's namespace");
  });

  it('destinations: port selection, per-destination request/response headers; route response header operations', async () => {
    assert.equal(backendOf(await send('dest.example.com', '/port81')), 'b');
    assert.equal(backendOf(await send('dest.example.com', '/port80')), 'a');
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 40; i++) {
      const r = await send('dest.example.com', '/split');
      const name = backendOf(r);
      counts[name]++;
      assert.equal(seenHeaders(r)['x-which'], name, 'each destination adds its own request headers');
      assert.equal(r.headers['x-resp-dest'], name, 'and its own response headers');
    }
    assert.ok(counts.a >= 5 && counts.b >= 5, `50/50 split over 40 requests: ${JSON.stringify(counts)}`);
    const r = await send('dest.example.com', '/whatever');
    assert.equal(r.headers['x-resp-added'], 'yes');
    assert.equal(r.headers['x-resp-set'], 'set');
    assert.equal(r.headers['x-backend'], undefined, 'response header removed');
    const rw = await send('dest.example.com', '/exact-old');
    assert.equal((JSON.parse(rw.body) as { path: string }).path, '/completely/new', 'rewrite.uri on an exact match replaces the whole path');
  });

  it('redirect uri/authority/port/derivePort/scheme/redirectCode; directResponse with string and bytes bodies', async () => {
    const loc = async (path: string) => { const r = await send('redir.example.com', path); return [r.status, r.headers.location]; };
    assert.deepEqual(await loc('/r-uri'), [301, 'http://redir.example.com/new']);
    assert.deepEqual(await loc('/r-auth'), [301, 'http://other.example.com/r-auth']);
    assert.deepEqual(await loc('/r-port'), [301, 'http://redir.example.com:8443/r-port']);
    assert.deepEqual(await loc('/r-derive'), [301, `http://redir.example.com:${p1}/r-derive`]);
    assert.deepEqual(await loc('/r-scheme'), [301, 'https://redir.example.com/r-scheme']);
    assert.deepEqual(await loc('/r-code'), [302, 'http://redir.example.com/c']);
    const bytes = await send('redir.example.com', '/bytes');
    assert.equal(bytes.status, 202);
    assert.equal(bytes.body, 'hello bytes');
    const text = await send('redir.example.com', '/anything');
    assert.equal(text.status, 503);
    assert.equal(text.body, 'unavailable text');
  });

  it("Istio's default retry policy: a backend failing once with 503 still answers the client", async () => {
    const r = await send('retry.example.com', '/once');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    assert.equal(flaky.hits(), 2, 'one retry after the 503');
  });

  it('retryOn with gRPC status names retries an UNAVAILABLE answer; a gRPC fault abort answers with the gRPC status', async () => {
    const h = await grpcCall(p1, 'retry.example.com', '/grpc.Svc/Call');
    assert.equal(h['grpc-status'], '0', `retried to success: ${JSON.stringify(h)}`);
    assert.equal(grpc.hits(), 2);
    const abort = await grpcCall(p1, 'retry.example.com', '/grpc.Svc/Abort');
    assert.equal(abort[':status'], 200);
    assert.equal(abort['grpc-status'], '14');
    assert.equal(grpc.hits(), 2, 'the aborted call never reached the backend');
  });

  it('CORS: prefix origins, allowCredentials, exposeHeaders, maxAge; unmatched preflights forwarded or ignored', async () => {
    const pre = await send('cors.example.com', '/', { origin: 'https://pre.example.org', 'access-control-request-method': 'PUT' }, { method: 'OPTIONS' });
    assert.equal(pre.headers['access-control-allow-origin'], 'https://pre.example.org');
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
    assert.equal(pre.headers['access-control-max-age'], '7200');
    assert.match(String(pre.headers['access-control-allow-methods']), /PUT/);
    const simple = await send('cors.example.com', '/', { origin: 'https://pre.example.org' });
    assert.equal(simple.headers['access-control-allow-origin'], 'https://pre.example.org');
    assert.equal(simple.headers['access-control-expose-headers'], 'x-exposed');
    assert.equal(simple.headers['access-control-allow-credentials'], 'true');
    const other = await send('cors.example.com', '/', { origin: 'https://evil.example.org' });
    assert.equal(other.headers['access-control-allow-origin'], undefined, 'origin outside the prefix');

    a.resetHits();
    await send('cors.example.com', '/', { origin: 'https://evil.example.org', 'access-control-request-method': 'PUT' }, { method: 'OPTIONS' });
    assert.equal(a.hits(), 1, 'unmatched preflight forwarded by default');
    b.resetHits();
    const ignored = await send('cors-ignore.example.com', '/', { origin: 'https://evil.example.org', 'access-control-request-method': 'GET' }, { method: 'OPTIONS' });
    assert.equal(b.hits(), 0, 'unmatchedPreflights IGNORE: not forwarded');
    assert.equal(ignored.headers['access-control-allow-origin'], undefined);
  });
});
