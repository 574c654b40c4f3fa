/**
 * More VirtualService HTTP semantics through a real Envoy gateway, each shown by what the client got
 * and what the backend received: scheme / authority / header / port / source / per-match gateway
 * matches, OR of match blocks vs AND of conditions; destination port and per-destination headers;
 * every redirect field, direct responses, full-path rewrites; Istio's default retry policy, gRPC
 * retry-on codes and gRPC aborts; CORS prefix origins, preflight methods/headers and unmatched preflights.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, type Reply } from './fixture.js';
import { Backend } from './recording-backend.js';

const send = (port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<Reply> => get(port, path, headers, { method, timeoutMs: 10_000 });

const vs = (name: string, hosts: string[], http: unknown[], gateways = ['gw']) =>
  ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts, gateways, http } });
const answer = (text: string) => ({ directResponse: { status: 200, body: { string: text } } });
const to = (host: string, port = 80) => ({ destination: { host, port: { number: port } } });

describe('VirtualService HTTP semantics (source labels and namespace of the gateway proxy, full-path rewrites, retry contrasts, preflight headers) through a real Envoy gateway', () => {
  const cfg = new ConfigDir();
  const a = new Backend('a');
  const b = new Backend('b');
  const flaky = new Backend('flaky');
  const backends = [a, b, flaky];
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let p1: number;
  let p2: number;

  before(async () => {
    for (const x of backends) await x.start();
    p1 = await freePort();
    p2 = await freePort();
    const http = (n: number, name = 'http') => ({ number: n, name, protocol: 'HTTP' });
    cfg.write('backends.yaml', [
      // One address, two service ports: port 80 reaches backend a, port 81 backend b.
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'multi', namespace: 'default' },
        spec: { hosts: ['multi.test.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [http(80), http(81, 'http-alt')], endpoints: [{ address: '127.0.0.1', ports: { http: a.port, 'http-alt': b.port } }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'flaky', namespace: 'default' },
        spec: { hosts: ['flaky.test.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [http(80)], endpoints: [{ address: '127.0.0.1', ports: { http: flaky.port } }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [
        { port: http(p1, 'http-1'), bind: '127.0.0.1', hosts: ['*.example.com'] },
        { port: http(p2, 'http-2'), bind: '127.0.0.1', hosts: ['*.example.com'] },
      ] } },
    ]);
    cfg.write('routes.yaml', [
      vs('match', ['match.example.com'], [
        { match: [{ scheme: { exact: 'https' } }], ...answer('https') },
        { match: [{ uri: { prefix: '/scheme' }, scheme: { exact: 'http' } }], ...answer('scheme-http') },
        { match: [{ headers: { 'x-h': { exact: 'v' } } }], ...answer('header-exact') },
        { match: [{ headers: { 'x-r': { regex: 'ab+c' } } }], ...answer('header-regex') },
        { match: [{ headers: { 'x-p': {} } }], ...answer('header-present') },
        { match: [{ uri: { prefix: '/and' }, headers: { 'x-and': { exact: '1' } } }], ...answer('and') },
        { match: [{ uri: { prefix: '/or' } }, { headers: { 'x-or': { exact: '1' } } }], ...answer('or') },
        // The gateway proxy is the source: labels istio=ingressgateway, namespace istio-system.
        { match: [{ uri: { prefix: '/src' }, sourceLabels: { app: 'other' } }], ...answer('wrong-labels') },
        { match: [{ uri: { prefix: '/src' }, sourceLabels: { istio: 'ingressgateway' } }], ...answer('source-labels') },
        { match: [{ uri: { prefix: '/ns' }, sourceNamespace: 'default' }], ...answer('wrong-namespace') },
        { match: [{ uri: { prefix: '/ns' }, sourceNamespace: 'istio-system' }], ...answer('source-namespace') },
        { match: [{ port: p2 }], ...answer('port-2') },
        answer('fallback'),
      ]),
      vs('authority', ['*.auth.example.com'], [
        { match: [{ authority: { exact: 'a.auth.example.com' } }], ...answer('authority-exact') },
        { match: [{ authority: { prefix: 'pre' } }], ...answer('authority-prefix') },
        { match: [{ authority: { regex: 'r[0-9]+\\.auth\\.example\\.com' } }], ...answer('authority-regex') },
        answer('fallback'),
      ]),
      // Bound to the mesh and the gateway; per-match gateways pick the rows that apply here.
      vs('both', ['both.example.com'], [
        { match: [{ gateways: ['mesh'] }], ...answer('mesh-only') },
        { match: [{ gateways: ['default/gw'], uri: { prefix: '/' } }], ...answer('gateway-only') },
      ], ['mesh', 'gw']),
      vs('ports', ['ports.example.com'], [
        { match: [{ uri: { prefix: '/81' } }], route: [{ ...to('multi.test.internal', 81), headers: { request: { set: { 'x-dest': '81' } }, response: { set: { 'x-dest-resp': '81' } } } }] },
        { match: [{ uri: { prefix: '/split' } }], route: [
          { ...to('multi.test.internal', 80), weight: 50, headers: { request: { set: { 'x-w': 'to-80' } }, response: { add: { 'x-w-resp': 'from-80' } } } },
          { ...to('multi.test.internal', 81), weight: 50, headers: { request: { set: { 'x-w': 'to-81' } }, response: { add: { 'x-w-resp': 'from-81' } } } },
        ] },
        { route: [to('multi.test.internal', 80)], headers: { response: { set: { 'x-route-resp': 'set' }, add: { 'x-backend': 'added' }, remove: ['x-internal'] } } },
      ]),
      vs('redirect', ['redirect.example.com'], [
        { match: [{ uri: { prefix: '/r302' } }], redirect: { uri: '/u', redirectCode: 302 } },
        { match: [{ uri: { prefix: '/all' } }], redirect: { uri: '/new', authority: 'other.example.com', port: 8443, scheme: 'https', redirectCode: 307 } },
        { match: [{ uri: { prefix: '/request-port' } }], redirect: { derivePort: 'FROM_REQUEST_PORT' } },
        { match: [{ uri: { prefix: '/default-port' } }], redirect: { scheme: 'https', derivePort: 'FROM_PROTOCOL_DEFAULT' } },
        { match: [{ uri: { prefix: '/443' } }], redirect: { scheme: 'https', port: 443, redirectCode: 303 } },
        { match: [{ uri: { prefix: '/string' } }], directResponse: { status: 503, body: { string: 'down for maintenance' } } },
        { match: [{ uri: { prefix: '/bytes' } }], directResponse: { status: 200, body: { bytes: Buffer.from('raw bytes body').toString('base64') } } },
        { match: [{ uri: { exact: '/exact' } }], rewrite: { uri: '/replaced' }, route: [to('multi.test.internal')] },
        { match: [{ uri: { regex: '/rx/[a-z]+' } }], rewrite: { uri: '/whole' }, route: [to('multi.test.internal')] },
        answer('fallback'),
      ]),
      vs('retry', ['retry.example.com'], [
        { match: [{ uri: { prefix: '/grpc-unavailable' } }], retries: { attempts: 3, retryOn: 'unavailable' }, route: [to('flaky.test.internal')] },
        { match: [{ uri: { prefix: '/grpc-cancelled' } }], retries: { attempts: 3, retryOn: 'cancelled' }, route: [to('flaky.test.internal')] },
        { match: [{ uri: { prefix: '/grpc-abort' } }], fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, route: [to('flaky.test.internal')] },
        // No retries field: Istio's default policy applies.
        { route: [to('flaky.test.internal')] },
      ]),
      vs('cors', ['cors.example.com'], [
        { match: [{ uri: { prefix: '/ignore' } }], route: [to('multi.test.internal')], corsPolicy: { allowOrigins: [{ prefix: 'https://pre.' }], allowMethods: ['PUT'], allowHeaders: ['x-a', 'x-b'], unmatchedPreflights: 'IGNORE' } },
        { route: [to('multi.test.internal')], corsPolicy: { allowOrigins: [{ prefix: 'https://pre.' }], allowMethods: ['PUT'], allowHeaders: ['x-a', 'x-b'], unmatchedPreflights: 'FORWARD' } },
      ]),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await send(p2, '/x', { host: 'match.example.com' })).body === 'port-2', 'routes loaded on both ports');
  });

  after(async () => {
    const syncz = await mp.getJson<Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz');
    assert.deepEqual(nacksIn(syncz), [], 'no NACK');
    await envoy?.stop();
    await mp?.stop();
    for (const x of backends) await x.close();
    cfg.remove();
  });

  it('matches: scheme, header exact/regex/presence, AND within a block, OR across blocks, port, source labels and namespace', async () => {
    const body = async (path: string, h: Record<string, string> = {}, port = p1) => (await send(port, path, { host: 'match.example.com', ...h })).body;
    assert.equal(await body('/scheme'), 'scheme-http', 'plain HTTP has scheme http, never https');
    assert.equal(await body('/x', { 'x-h': 'v' }), 'header-exact');
    assert.equal(await body('/x', { 'x-h': 'vv' }), 'fallback');
    assert.equal(await body('/x', { 'x-r': 'abbbc' }), 'header-regex');
    assert.equal(await body('/x', { 'x-r': 'xabc' }), 'fallback', 'header regex matches the whole value');
    assert.equal(await body('/x', { 'x-p': '' }), 'header-present');
    assert.equal(await body('/x', { 'x-p': 'anything' }), 'header-present');
    assert.equal(await body('/and', { 'x-and': '1' }), 'and');
    assert.equal(await body('/and'), 'fallback', 'both conditions of a block are needed');
    assert.equal(await body('/x', { 'x-and': '1' }), 'fallback');
    assert.equal(await body('/or'), 'or');
    assert.equal(await body('/x', { 'x-or': '1' }), 'or', 'either block suffices');
    assert.equal(await body('/src'), 'source-labels');
    assert.equal(await body('/ns'), 'source-namespace');
    assert.equal(await body('/x'), 'fallback');
    assert.equal(await body('/x', {}, p2), 'port-2');
    assert.equal(await body('/and', { 'x-and': '1' }, p2), 'and', 'earlier rows still win on port 2');
  });

  it('matches: authority exact / prefix / regex; per-match gateways on a VirtualService bound to mesh and the gateway', async () => {
    const auth = async (host: string) => (await send(p1, '/', { host })).body;
    assert.equal(await auth('a.auth.example.com'), 'authority-exact');
    assert.equal(await auth('prefixed.auth.example.com'), 'authority-prefix');
    assert.equal(await auth('r42.auth.example.com'), 'authority-regex');
    assert.equal(await auth('rx.auth.example.com'), 'fallback');
    assert.equal((await send(p1, '/any', { host: 'both.example.com' })).body, 'gateway-only', 'the mesh-only row is not on the gateway');
  });

  it('destination port selects the service port; per-destination and route response header operations', async () => {
    a.seen.length = 0;
    b.seen.length = 0;
    let r = await send(p1, '/81', { host: 'ports.example.com' });
    assert.equal(r.headers['x-backend'], 'b', 'port 81 reaches the endpoint port of http-alt');
    assert.equal(b.seen[0].headers['x-dest'], '81');
    assert.equal(r.headers['x-dest-resp'], '81');
    a.behave = () => ({ headers: { 'x-internal': 'secret' } });
    r = await send(p1, '/plain', { host: 'ports.example.com' });
    a.behave = () => ({});
    assert.equal(JSON.parse(r.body).name, 'a');
    assert.equal(r.headers['x-route-resp'], 'set');
    assert.deepEqual(String(r.headers['x-backend']).split(/, ?/), ['a', 'added'], 'add appends to the backend\'s header');
    assert.equal(r.headers['x-internal'], undefined, 'response header removed');
    const counts: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      r = await send(p1, '/split', { host: 'ports.example.com' });
      const name = String(r.headers['x-backend']);
      counts[name] = (counts[name] ?? 0) + 1;
      const port = name === 'a' ? '80' : '81';
      assert.equal(r.headers['x-w-resp'], `from-${port}`, 'each destination adds its own response header');
    }
    for (const s of [...a.seen, ...b.seen].filter((x) => x.path === '/split')) assert.equal(s.headers['x-w'], s.name === 'a' ? 'to-80' : 'to-81');
    // 40 requests at 50/50: each side at least 8 (p < 1e-4).
    assert.ok((counts.a ?? 0) >= 8 && (counts.b ?? 0) >= 8, JSON.stringify(counts));
  });

  it('redirect uri / authority / port / scheme / code, derivePort; direct response string and bytes; full-path rewrites', async () => {
    const go = (path: string) => send(p1, path, { host: 'redirect.example.com' });
    let r = await go('/r302');
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://redirect.example.com/u');
    r = await go('/all?q=1');
    assert.equal(r.status, 307);
    assert.equal(r.headers.location, 'https://other.example.com:8443/new?q=1');
    r = await go('/request-port/x');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, `http://redirect.example.com:${p1}/request-port/x`);
    r = await send(p2, '/request-port/x', { host: 'redirect.example.com' });
    assert.equal(r.headers.location, `http://redirect.example.com:${p2}/request-port/x`, 'the port the request came in on');
    r = await go('/default-port');
    assert.equal(r.headers.location, 'https://redirect.example.com/default-port');
    r = await go('/443');
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, 'https://redirect.example.com/443', 'no explicit :443 for https');
    r = await go('/string');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'down for maintenance');
    r = await go('/bytes');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'raw bytes body');
    a.seen.length = 0;
    assert.equal((await go('/exact?q=1')).status, 200);
    assert.equal(a.seen[0].path, '/replaced?q=1', 'an exact match is rewritten whole');
    assert.equal((await go('/rx/abc')).status, 200);
    assert.equal(a.seen[1].path, '/whole', 'a regex match is rewritten whole');
    assert.equal((await go('/exact/more')).body, 'fallback');
  });

  it("retries: Istio's default policy hides one 503, not a 500; retryOn gRPC codes; gRPC abort", async () => {
    const grpc = { 'content-type': 'application/grpc' };
    // Odd attempts fail, even ones succeed: every request's first attempt fails, its retry succeeds.
    flaky.seen.length = 0;
    flaky.behave = (_req, n) => ({ status: n % 2 === 1 ? 503 : 200 });
    for (let i = 0; i < 10; i++) assert.equal((await send(p1, '/d', { host: 'retry.example.com' })).status, 200);
    assert.equal(flaky.seen.length, 20, 'each request took two attempts');
    flaky.seen.length = 0;
    flaky.behave = (_req, n) => ({ status: n % 2 === 1 ? 500 : 200 });
    let failed = 0;
    for (let i = 0; i < 10; i++) if ((await send(p1, '/d', { host: 'retry.example.com' })).status === 500) failed++;
    assert.ok(failed >= 4, `a 500 is not retried by default: ${failed} of 10 failed`);

    flaky.seen.length = 0;
    flaky.behave = (_req, n) => ({ headers: { 'content-type': 'application/grpc', 'grpc-status': n % 2 === 1 ? '14' : '0' } });
    for (let i = 0; i < 10; i++) {
      const r = await send(p1, '/grpc-unavailable', { host: 'retry.example.com', ...grpc }, 'POST');
      assert.equal(r.headers['grpc-status'], '0', 'UNAVAILABLE is retried');
    }
    flaky.seen.length = 0;
    let unavailable = 0;
    for (let i = 0; i < 10; i++) if ((await send(p1, '/grpc-cancelled', { host: 'retry.example.com', ...grpc }, 'POST')).headers['grpc-status'] === '14') unavailable++;
    assert.ok(unavailable >= 4, `retryOn cancelled does not retry UNAVAILABLE: ${unavailable} of 10`);
    flaky.behave = () => ({});

    flaky.seen.length = 0;
    const r = await send(p1, '/grpc-abort', { host: 'retry.example.com', ...grpc }, 'POST');
    assert.equal(r.headers['grpc-status'], '14', 'aborted with gRPC UNAVAILABLE');
    assert.equal(flaky.seen.length, 0, 'the backend never saw it');
  });

  it('CORS: prefix origins, preflight methods and headers; unmatched preflights forwarded (FORWARD) or answered (IGNORE)', async () => {
    const pre = (path: string, origin: string) => send(p1, path, { host: 'cors.example.com', origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a' }, 'OPTIONS');
    a.seen.length = 0;
    let r = await pre('/f', 'https://pre.example.org');
    assert.equal(r.headers['access-control-allow-origin'], 'https://pre.example.org');
    assert.equal(r.headers['access-control-allow-methods'], 'PUT');
    assert.equal(r.headers['access-control-allow-headers'], 'x-a,x-b');
    assert.equal(a.seen.length, 0, 'a matched preflight is answered by Envoy');
    r = await pre('/f', 'https://other.example.org');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(a.seen.length, 1, 'FORWARD: an unmatched preflight reaches the backend');
    assert.equal(a.seen[0].method, 'OPTIONS');
    r = await pre('/ignore', 'https://other.example.org');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(a.seen.length, 1, 'IGNORE: an unmatched preflight is not forwarded');
    r = await pre('/ignore', 'https://pre.x.org');
    assert.equal(r.headers['access-control-allow-origin'], 'https://pre.x.org');
  });
});
