/**
 * VirtualService HTTP features through a real Envoy gateway, each checked by what the client got
 * and what the backend received: matches, rewrite, redirect, direct response, header operations,
 * fault injection rates, retries, timeouts, mirroring and CORS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, type Reply } from './fixture.js';
import { Backend } from './recording-backend.js';

function send(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<Reply> {
  return get(port, path, headers, { method, timeoutMs: 10_000 });
}

const vs = (host: string, http: unknown[]) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: host.split('.')[0], namespace: 'default' }, spec: { hosts: [host], gateways: ['gw'], http } });
const to = (svc: string) => ({ destination: { host: `${svc}.test.internal`, port: { number: 80 } } });

describe('VirtualService HTTP features through a real Envoy gateway', () => {
  const cfg = new ConfigDir();
  const main = new Backend('main');
  const shadow = new Backend('shadow');
  const flaky = new Backend('flaky');
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;

  before(async () => {
    for (const b of [main, shadow, flaky]) await b.start();
    port = await freePort();
    const se = (b: Backend) => ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: b.name, namespace: 'default' },
      spec: { hosts: [`${b.name}.test.internal`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '127.0.0.1', ports: { http: b.port } }] } });
    cfg.write('backends.yaml', [se(main), se(shadow), se(flaky),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } }]);
    cfg.write('routes.yaml', [
      vs('match.example.com', [
        { name: 'regex-icase', match: [{ uri: { regex: '/items/[0-9]+' }, ignoreUriCase: true }], directResponse: { status: 200, body: { string: 'regex' } } },
        { name: 'query', match: [{ queryParams: { v: { exact: '2' } } }], directResponse: { status: 200, body: { string: 'query' } } },
        { name: 'method', match: [{ method: { exact: 'DELETE' } }], directResponse: { status: 200, body: { string: 'method' } } },
        { name: 'without', match: [{ uri: { prefix: '/w' }, withoutHeaders: { 'x-debug': {} } }], directResponse: { status: 200, body: { string: 'without' } } },
        { name: 'header-prefix', match: [{ headers: { 'x-tenant': { prefix: 'acme-' } } }], directResponse: { status: 200, body: { string: 'tenant' } } },
        { name: 'fallback', directResponse: { status: 418, body: { string: 'fallback' } } },
      ]),
      vs('rewrite.example.com', [
        { match: [{ uri: { prefix: '/old/' } }], rewrite: { uri: '/new/', authority: 'internal.example.com' }, route: [to('main')] },
        { match: [{ uri: { prefix: '/rx/' } }], rewrite: { uriRegexRewrite: { match: '^/rx/([a-z]+)/(.*)$', rewrite: '/\\2/\\1' } }, route: [to('main')] },
        { match: [{ uri: { exact: '/moved' } }], redirect: { uri: '/here', authority: 'new.example.com', redirectCode: 308 } },
        { route: [{ ...to('main'), headers: { request: { set: { 'x-dest': 'main' } } } }], headers: { request: { set: { 'x-set': '1' }, add: { 'x-added': 'a' }, remove: ['x-drop'] }, response: { set: { 'x-resp': 'yes' }, remove: ['x-backend'] } } },
      ]),
      vs('fault.example.com', [
        { match: [{ uri: { prefix: '/abort' } }], fault: { abort: { httpStatus: 503, percentage: { value: 30 } } }, route: [to('main')] },
        { match: [{ uri: { prefix: '/delay' } }], fault: { delay: { fixedDelay: '300ms', percentage: { value: 100 } } }, route: [to('main')] },
        { match: [{ uri: { prefix: '/timeout' } }], timeout: '200ms', retries: { attempts: 0 }, route: [to('main')] },
      ]),
      vs('retry.example.com', [
        { match: [{ uri: { prefix: '/retry' } }], retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx' }, route: [to('flaky')] },
        { route: [to('flaky')], retries: { attempts: 0 } },
      ]),
      vs('mirror.example.com', [{ route: [to('main')], mirrors: [{ destination: { host: 'shadow.test.internal', port: { number: 80 } }, percentage: { value: 100 } }] }]),
      vs('cors.example.com', [{ route: [to('main')], corsPolicy: { allowOrigins: [{ exact: 'https://app.example.org' }, { regex: 'https://.*\\.trusted\\.org' }], allowMethods: ['GET', 'POST'], allowHeaders: ['x-token'], exposeHeaders: ['x-resp'], maxAge: '1h', allowCredentials: true } }]),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await send(port, '/x', { host: 'match.example.com' })).status === 418, 'routes loaded');
  });

  after(async () => {
    const syncz = await mp.getJson<Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz');
    assert.deepEqual(nacksIn(syncz), [], 'no NACK');
    await envoy?.stop();
    await mp?.stop();
    for (const b of [main, shadow, flaky]) await b.close();
    cfg.remove();
  });

  it('matches: regex with ignoreUriCase, query params, method, withoutHeaders, header prefix; first match wins', async () => {
    const body = async (path: string, h: Record<string, string> = {}, m = 'GET') => (await send(port, path, { host: 'match.example.com', ...h }, m)).body;
    assert.equal(await body('/ITEMS/42'), 'regex');
    assert.equal(await body('/items/x'), 'fallback');
    assert.equal(await body('/q?v=2'), 'query');
    assert.equal(await body('/q?v=3'), 'fallback');
    assert.equal(await body('/z', {}, 'DELETE'), 'method');
    assert.equal(await body('/w'), 'without');
    assert.equal(await body('/w', { 'x-debug': '1' }), 'fallback');
    assert.equal(await body('/t', { 'x-tenant': 'acme-1' }), 'tenant');
    assert.equal(await body('/ITEMS/1?v=2', {}, 'DELETE'), 'regex', 'the first matching route wins');
  });

  it('rewrite (prefix + authority, regex), redirect, header operations at route and destination level', async () => {
    main.seen.length = 0;
    let r = await send(port, '/old/a?x=1', { host: 'rewrite.example.com' });
    assert.equal(r.status, 200);
    assert.equal(main.seen[0].path, '/new/a?x=1');
    assert.equal(main.seen[0].headers.host, 'internal.example.com');
    await send(port, '/rx/abc/rest', { host: 'rewrite.example.com' });
    assert.equal(main.seen[1].path, '/rest/abc');
    r = await send(port, '/moved', { host: 'rewrite.example.com' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, 'http://new.example.com/here');
    r = await send(port, '/h', { host: 'rewrite.example.com', 'x-drop': 'gone', 'x-added': 'first' });
    const h = main.seen[2].headers;
    assert.equal(h['x-set'], '1');
    assert.equal(h['x-dest'], 'main');
    assert.equal(h['x-drop'], undefined);
    assert.match(String(h['x-added']), /^first, ?a$/, 'add appends to what the client sent');
    assert.equal(r.headers['x-resp'], 'yes');
    assert.equal(r.headers['x-backend'], undefined, 'response header removed');
  });

  it('fault abort at 30% (±5 sd over 400 requests), fixed delay, and route timeout', async () => {
    let aborted = 0;
    for (let i = 0; i < 400; i++) if ((await send(port, '/abort', { host: 'fault.example.com' })).status === 503) aborted++;
    // n=400, p=0.3: sd ≈ 9.2
    assert.ok(aborted >= 74 && aborted <= 166, `aborted ${aborted} of 400`);
    let t0 = Date.now();
    assert.equal((await send(port, '/delay', { host: 'fault.example.com' })).status, 200);
    assert.ok(Date.now() - t0 >= 290, `delayed ${Date.now() - t0} ms`);
    main.behave = (req) => (req.url?.startsWith('/timeout') ? { delayMs: 1000 } : {});
    t0 = Date.now();
    assert.equal((await send(port, '/timeout', { host: 'fault.example.com' })).status, 504);
    assert.ok(Date.now() - t0 < 900, 'timed out before the backend answered');
    main.behave = () => ({});
  });

  it('retries: a backend failing every other attempt is hidden by retries, visible without them', async () => {
    flaky.behave = (_req, n) => ({ status: n % 2 === 1 ? 503 : 200 });
    for (let i = 0; i < 20; i++) assert.equal((await send(port, '/retry', { host: 'retry.example.com' })).status, 200);
    let failures = 0;
    for (let i = 0; i < 20; i++) if ((await send(port, '/plain', { host: 'retry.example.com' })).status === 503) failures++;
    assert.ok(failures >= 5, `without retries ${failures} of 20 failed`);
  });

  it('mirrors: the shadow receives copies, the caller sees only the primary', async () => {
    shadow.seen.length = 0;
    for (let i = 0; i < 10; i++) {
      const r = await send(port, `/m${i}`, { host: 'mirror.example.com' });
      assert.equal(JSON.parse(r.body).name, 'main');
    }
    await eventually(async () => shadow.seen.length === 10, 'shadow got 10 copies');
    // Current Istio no longer appends -shadow to the mirrored host.
    assert.equal(shadow.seen[0].headers.host, 'mirror.example.com');
  });

  it('CORS: preflight for an allowed origin (exact and regex), none for others; simple requests get the headers', async () => {
    const pre = (origin: string) => send(port, '/c', { host: 'cors.example.com', origin, 'access-control-request-method': 'POST' }, 'OPTIONS');
    let r = await pre('https://app.example.org');
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.org');
    assert.match(String(r.headers['access-control-allow-methods']), /POST/);
    assert.equal(r.headers['access-control-max-age'], '3600');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    r = await pre('https://x.trusted.org');
    assert.equal(r.headers['access-control-allow-origin'], 'https://x.trusted.org');
    r = await pre('https://evil.example.net');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    r = await send(port, '/c', { host: 'cors.example.com', origin: 'https://app.example.org' });
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.org');
    assert.equal(r.headers['access-control-expose-headers'], 'x-resp');
  });
});
