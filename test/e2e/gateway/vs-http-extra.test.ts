/**
 * VirtualService HTTP rows that vs-more.test.ts leaves out, through a real Envoy gateway: the
 * gateway proxy as the source of sourceLabels / sourceNamespace matches, header regex and presence
 * edge cases, derivePort per request port and FROM_PROTOCOL_DEFAULT, full-path rewrites on exact
 * and regex matches, the retries Istio's defaults and retryOn do NOT make, a retry policy shared by
 * a virtual host's routes (set once on the virtual host) beside one route with retries off, CORS
 * preflight headers.
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

describe('VirtualService HTTP rows beyond vs-more through a real Envoy gateway', () => {
  const cfg = new ConfigDir();
  const a = new Backend('a');
  const flaky = new Backend('flaky');
  const backends = [a, flaky];
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
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'multi', namespace: 'default' },
        spec: { hosts: ['multi.test.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [http(80)], endpoints: [{ address: '127.0.0.1', ports: { http: a.port } }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'flaky', namespace: 'default' },
        spec: { hosts: ['flaky.test.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [http(80)], endpoints: [{ address: '127.0.0.1', ports: { http: flaky.port } }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [
        { port: http(p1, 'http-1'), bind: '127.0.0.1', hosts: ['*.example.com'] },
        { port: http(p2, 'http-2'), bind: '127.0.0.1', hosts: ['*.example.com'] },
      ] } },
    ]);
    cfg.write('routes.yaml', [
      vs('match', ['match.example.com'], [
        { match: [{ headers: { 'x-r': { regex: 'ab+c' } } }], ...answer('header-regex') },
        { match: [{ headers: { 'x-p': {} } }], ...answer('header-present') },
        // The gateway proxy is the source: labels istio=ingressgateway, namespace istio-system.
        { match: [{ uri: { prefix: '/src' }, sourceLabels: { app: 'other' } }], ...answer('wrong-labels') },
        { match: [{ uri: { prefix: '/src' }, sourceLabels: { istio: 'ingressgateway' } }], ...answer('source-labels') },
        { match: [{ uri: { prefix: '/ns' }, sourceNamespace: 'default' }], ...answer('wrong-namespace') },
        { match: [{ uri: { prefix: '/ns' }, sourceNamespace: 'istio-system' }], ...answer('source-namespace') },
        { match: [{ port: p2 }], ...answer('port-2') },
        answer('fallback'),
      ]),
      vs('redirect', ['redirect.example.com'], [
        { match: [{ uri: { prefix: '/request-port' } }], redirect: { derivePort: 'FROM_REQUEST_PORT' } },
        { match: [{ uri: { prefix: '/default-port' } }], redirect: { scheme: 'https', derivePort: 'FROM_PROTOCOL_DEFAULT' } },
        { match: [{ uri: { prefix: '/443' } }], redirect: { scheme: 'https', port: 443, redirectCode: 303 } },
        { match: [{ uri: { exact: '/exact' } }], rewrite: { uri: '/replaced' }, route: [to('multi.test.internal')] },
        { match: [{ uri: { regex: '/rx/[a-z]+' } }], rewrite: { uri: '/whole' }, route: [to('multi.test.internal')] },
        answer('fallback'),
      ]),
      vs('retry', ['retry.example.com'], [
        { match: [{ uri: { prefix: '/grpc-cancelled' } }], retries: { attempts: 3, retryOn: 'cancelled' }, route: [to('flaky.test.internal')] },
        // No retries field: Istio's default policy applies.
        { route: [to('flaky.test.internal')] },
      ]),
      // Both forwarding routes keep Istio's default policy: it is set once on the virtual host (the redirect never retries).
      vs('retry-shared', ['retry-shared.example.com'], [
        { match: [{ uri: { prefix: '/moved' } }], redirect: { uri: '/elsewhere' } },
        { match: [{ uri: { prefix: '/a' } }], route: [to('flaky.test.internal')] },
        { route: [to('flaky.test.internal')] },
      ]),
      // One route with retries off: every route keeps its own policy (none for /off).
      vs('retry-mixed', ['retry-mixed.example.com'], [
        { match: [{ uri: { prefix: '/off' } }], retries: { attempts: 0 }, route: [to('flaky.test.internal')] },
        { route: [to('flaky.test.internal')] },
      ]),
      vs('cors', ['cors.example.com'], [
        { match: [{ uri: { prefix: '/ignore' } }], route: [to('multi.test.internal')], corsPolicy: { allowOrigins: [{ prefix: 'https://pre.' }], allowMethods: ['PUT'], allowHeaders: ['x-a', 'x-b'], unmatchedPreflights: 'IGNORE' } },
        { route: [to('multi.test.internal')], corsPolicy: { allowOrigins: [{ prefix: 'https://pre.' }], allowMethods: ['PUT'], allowHeaders: ['x-a', 'x-b'] } },
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

  it('matches by the gateway proxy as the source (sourceLabels, sourceNamespace); header regex is a whole-value match; presence accepts an empty value', async () => {
    const body = async (path: string, h: Record<string, string> = {}, port = p1) => (await send(port, path, { host: 'match.example.com', ...h })).body;
    assert.equal(await body('/src'), 'source-labels');
    assert.equal(await body('/ns'), 'source-namespace');
    assert.equal(await body('/x', { 'x-r': 'abbbc' }), 'header-regex');
    assert.equal(await body('/x', { 'x-r': 'xabc' }), 'fallback');
    assert.equal(await body('/x', { 'x-p': '' }), 'header-present');
    assert.equal(await body('/x'), 'fallback');
  });

  it('redirect derivePort per request port and FROM_PROTOCOL_DEFAULT, no :443 for https; rewrite.uri on exact (query kept) and regex matches replaces the whole path', async () => {
    const go = (path: string, port = p1) => send(port, path, { host: 'redirect.example.com' });
    let r = await go('/request-port/x');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, `http://redirect.example.com:${p1}/request-port/x`);
    r = await go('/request-port/x', p2);
    assert.equal(r.headers.location, `http://redirect.example.com:${p2}/request-port/x`, 'the port the request came in on');
    r = await go('/default-port');
    assert.equal(r.headers.location, 'https://redirect.example.com/default-port');
    r = await go('/443');
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, 'https://redirect.example.com/443');
    a.seen.length = 0;
    assert.equal((await go('/exact?q=1')).status, 200);
    assert.equal(a.seen[0].path, '/replaced?q=1');
    assert.equal((await go('/rx/abc')).status, 200);
    assert.equal(a.seen[1].path, '/whole');
    assert.equal((await go('/exact/more')).body, 'fallback');
  });

  it("retries: Istio's default policy hides a 503 but not a 500; retryOn cancelled leaves UNAVAILABLE alone", async () => {
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
    let unavailable = 0;
    for (let i = 0; i < 10; i++) if ((await send(p1, '/grpc-cancelled', { host: 'retry.example.com', 'content-type': 'application/grpc' }, 'POST')).headers['grpc-status'] === '14') unavailable++;
    assert.ok(unavailable >= 4, `retryOn cancelled does not retry UNAVAILABLE: ${unavailable} of 10`);
    flaky.behave = () => ({});
  });

  it('a retry policy all routes share is on the virtual host and still retries every route; a route with retries off beside default ones is not retried', async () => {
    flaky.behave = (_req, n) => ({ status: n % 2 === 1 ? 503 : 200 });
    for (const path of ['/a', '/b']) {
      flaky.seen.length = 0;
      for (let i = 0; i < 6; i++) assert.equal((await send(p1, path, { host: 'retry-shared.example.com' })).status, 200, `${path}: the 503 retried`);
      assert.equal(flaky.seen.length, 12, `${path}: each request took two attempts`);
    }
    assert.equal((await send(p1, '/moved', { host: 'retry-shared.example.com' })).status, 301);
    flaky.seen.length = 0;
    let failed = 0;
    for (let i = 0; i < 6; i++) if ((await send(p1, '/off', { host: 'retry-mixed.example.com' })).status === 503) failed++;
    assert.equal(flaky.seen.length, 6, '/off: one attempt per request');
    assert.equal(failed, 3, '/off: every other request fails with 503');
    for (let i = 0; i < 6; i++) assert.equal((await send(p1, '/on', { host: 'retry-mixed.example.com' })).status, 200, '/on: the default policy retries');
    flaky.behave = () => ({});
    // What Envoy holds: the shared policy once on the virtual host, none left on its routes.
    const rc = ((await envoy.configDump()).configs as Array<Record<string, unknown>>)
      .flatMap((c) => (c.dynamic_route_configs as Array<{ route_config: { virtual_hosts: Array<Record<string, unknown>> } }> | undefined) ?? [])
      .flatMap((d) => d.route_config.virtual_hosts);
    const shared = rc.find((v) => (v.domains as string[]).includes('retry-shared.example.com'));
    const mixed = rc.find((v) => (v.domains as string[]).includes('retry-mixed.example.com'));
    assert.ok(shared && mixed, 'both virtual hosts in the config dump');
    assert.equal((shared.retry_policy as { num_retries?: number } | undefined)?.num_retries, 2);
    assert.ok((shared.routes as Array<{ route?: Record<string, unknown> }>).every((r) => r.route?.retry_policy === undefined));
    assert.equal(mixed.retry_policy, undefined);
  });

  it('CORS preflight: allowed methods and headers answered by Envoy itself; IGNORE still answers matching origins', async () => {
    const pre = (path: string, origin: string) => send(p1, path, { host: 'cors.example.com', origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a' }, 'OPTIONS');
    a.seen.length = 0;
    let r = await pre('/f', 'https://pre.example.org');
    assert.equal(r.headers['access-control-allow-origin'], 'https://pre.example.org');
    assert.equal(r.headers['access-control-allow-methods'], 'PUT');
    assert.equal(r.headers['access-control-allow-headers'], 'x-a,x-b');
    assert.equal(a.seen.length, 0, 'a matched preflight is answered by Envoy');
    r = await pre('/ignore', 'https://pre.x.org');
    assert.equal(r.headers['access-control-allow-origin'], 'https://pre.x.org');
    assert.equal(a.seen.length, 0);
  });
});
