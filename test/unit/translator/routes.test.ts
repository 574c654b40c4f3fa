import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HTTPMatchRequest, HTTPRoute, VirtualService } from '../../../src/api/index.js';
import { buildHttpRoutes } from '../../../src/translator/http-routes.js';
import { buildRouteMatch } from '../../../src/translator/route-match.js';
import { buildRetryPolicy, hoistRetryPolicy, translateHeaders } from '../../../src/translator/route-policies.js';
import { gatewayProxy, objects, service, snapshot } from './fixtures.js';

type Obj = Record<string, unknown>;

describe('match translation', () => {
  const cases: Array<{ what: string; m: HTTPMatchRequest | undefined; want: Obj }> = [
    { what: 'no match: everything', m: undefined, want: { prefix: '/' } },
    { what: 'uri exact', m: { uri: { exact: '/a' } }, want: { path: '/a', caseSensitive: { value: true } } },
    { what: 'uri prefix', m: { uri: { prefix: '/api/' } }, want: { prefix: '/api/', caseSensitive: { value: true } } },
    { what: 'uri regex (RE2)', m: { uri: { regex: '/v[0-9]+/.*' } }, want: { safeRegex: { regex: '/v[0-9]+/.*' }, caseSensitive: { value: true } } },
    { what: 'ignoreUriCase', m: { uri: { prefix: '/A' }, ignoreUriCase: true }, want: { prefix: '/A', caseSensitive: { value: false } } },
    {
      what: 'headers exact / prefix / regex / presence, sorted by name',
      m: { headers: { 'x-c': { regex: 'a.*' }, 'x-a': { exact: '1' }, 'x-d': {}, 'x-b': { prefix: 'p' } } },
      want: { prefix: '/', caseSensitive: { value: true }, headers: [
        { name: 'x-a', stringMatch: { exact: '1' } },
        { name: 'x-b', stringMatch: { prefix: 'p' } },
        { name: 'x-c', stringMatch: { safeRegex: { regex: 'a.*' } } },
        { name: 'x-d', presentMatch: true },
      ] },
    },
    { what: 'regex "*" means present', m: { headers: { 'x-a': { regex: '*' } } }, want: { prefix: '/', caseSensitive: { value: true }, headers: [{ name: 'x-a', presentMatch: true }] } },
    {
      what: 'withoutHeaders inverts (absent header counts as empty)',
      m: { withoutHeaders: { 'x-a': { exact: 'no' }, 'x-b': {} } },
      want: { prefix: '/', caseSensitive: { value: true }, headers: [
        { name: 'x-a', stringMatch: { exact: 'no' }, invertMatch: true, treatMissingHeaderAsEmpty: true },
        { name: 'x-b', presentMatch: true, invertMatch: true },
      ] },
    },
    {
      what: 'method, authority and scheme as pseudo-headers',
      m: { method: { exact: 'GET' }, authority: { prefix: 'api.' }, scheme: { exact: 'https' } },
      want: { prefix: '/', caseSensitive: { value: true }, headers: [
        { name: ':method', stringMatch: { exact: 'GET' } },
        { name: ':authority', stringMatch: { prefix: 'api.' } },
        { name: ':scheme', stringMatch: { exact: 'https' } },
      ] },
    },
    {
      what: 'query parameters',
      m: { queryParams: { v: { exact: '2' }, debug: {}, id: { regex: '\\d+' } } },
      want: { prefix: '/', caseSensitive: { value: true }, queryParameters: [
        { name: 'debug', presentMatch: true },
        { name: 'id', stringMatch: { safeRegex: { regex: '\\d+' } } },
        { name: 'v', stringMatch: { exact: '2' } },
      ] },
    },
  ];
  for (const c of cases) it(c.what, () => assert.deepEqual(buildRouteMatch(c.m), c.want));
});

const base = [
  service('reviews', 'default', [{ name: 'http', port: 9080 }]),
  service('web', 'default', [{ name: 'http', port: 80 }, { name: 'admin', port: 8081 }]),
].join('\n---\n');

/** Envoy routes of one VirtualService (bound to gateway default/gw) as the gateway builds them on a port. */
function routes(http: HTTPRoute[], opts: { port?: number; extra?: string; isTls?: boolean; gateways?: string[] } = {}): Obj[] {
  const vsYaml = `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: default}\nspec:\n  hosts: [a.example.com]\n  gateways: [gw]\n  http: ${JSON.stringify(http)}`;
  const vs = objects(vsYaml)[0] as VirtualService;
  const snap = snapshot([base, vsYaml, opts.extra].filter(Boolean).join('\n---\n'));
  return buildHttpRoutes(vs.spec.http ?? [], { snapshot: snap, proxy: gatewayProxy(), vs, listenerPort: opts.port ?? 80, isTls: opts.isTls ?? false, gateways: new Set(opts.gateways ?? ['default/gw']) });
}
const action = (r: Obj) => r.route as Obj;

describe('destinations and weights', () => {
  it('one destination: a cluster', () => {
    assert.equal(action(routes([{ route: [{ destination: { host: 'reviews' } }] }])[0]).cluster, 'outbound|9080||reviews.default.svc.cluster.local');
  });
  it('one destination with weight 0 is still the cluster', () => {
    assert.equal(action(routes([{ route: [{ destination: { host: 'reviews' }, weight: 0 }] }])[0]).cluster, 'outbound|9080||reviews.default.svc.cluster.local');
  });
  it('several destinations: weighted clusters with the weights as given, zero weights left out', () => {
    const r = action(routes([{ route: [
      { destination: { host: 'reviews', subset: 'v1' }, weight: 75 },
      { destination: { host: 'reviews', subset: 'v2' }, weight: 25 },
      { destination: { host: 'reviews', subset: 'v3' }, weight: 0 },
    ] }])[0]);
    assert.equal(r.cluster, undefined);
    assert.deepEqual(r.weightedClusters, { clusters: [
      { name: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: { value: 75 } },
      { name: 'outbound|9080|v2|reviews.default.svc.cluster.local', weight: { value: 25 } },
    ] });
  });
  it('a multi-port service without destination port gets the port the request came in on', () => {
    assert.equal(action(routes([{ route: [{ destination: { host: 'web' } }] }], { port: 8081 })[0]).cluster, 'outbound|8081||web.default.svc.cluster.local');
  });
  it('destination headers: on the weighted cluster, or appended to the route for a single destination', () => {
    const hdr = { request: { set: { 'x-d': '1' } } };
    const [single] = routes([{ headers: { request: { set: { 'x-r': '1' } } }, route: [{ destination: { host: 'reviews' }, headers: hdr }] }]);
    assert.deepEqual((single.requestHeadersToAdd as Obj[]).map((h) => (h.header as Obj).key), ['x-r', 'x-d']);
    const [weighted] = routes([{ route: [{ destination: { host: 'reviews', subset: 'a' }, weight: 50, headers: hdr }, { destination: { host: 'reviews', subset: 'b' }, weight: 50 }] }]);
    const clusters = (action(weighted).weightedClusters as { clusters: Obj[] }).clusters;
    assert.deepEqual(clusters[0].requestHeadersToAdd, [{ header: { key: 'x-d', value: '1' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    assert.equal(clusters[1].requestHeadersToAdd, undefined);
  });
});

describe('route naming and ordering', () => {
  it('route name from HTTPRoute name, ".matchName" appended; unnamed routes have none', () => {
    const rs = routes([
      { name: 'r1', match: [{ name: 'm1', uri: { prefix: '/a' } }, { uri: { prefix: '/b' } }], route: [{ destination: { host: 'reviews' } }] },
      { route: [{ destination: { host: 'reviews' } }] },
    ]);
    assert.deepEqual(rs.map((r) => r.name), ['r1.m1', 'r1', undefined]);
  });
  it('several match blocks are OR: one Envoy route each, in order', () => {
    const rs = routes([{ match: [{ uri: { prefix: '/a' } }, { headers: { x: { exact: '1' } } }], route: [{ destination: { host: 'reviews' } }] }]);
    assert.equal(rs.length, 2);
    assert.equal((rs[0].match as Obj).prefix, '/a');
    assert.deepEqual((rs[1].match as Obj).headers, [{ name: 'x', stringMatch: { exact: '1' } }]);
  });
  it('nothing after a catch-all (it would never match)', () => {
    const rs = routes([
      { match: [{ uri: { prefix: '/' } }], route: [{ destination: { host: 'reviews' } }] },
      { name: 'never', route: [{ destination: { host: 'reviews' } }] },
    ]);
    assert.equal(rs.length, 1);
  });
  it('match blocks for other gateways, ports or source labels are dropped', () => {
    const rs = routes([
      { name: 'other-gw', match: [{ gateways: ['other'] }], route: [{ destination: { host: 'reviews' } }] },
      { name: 'this-gw', match: [{ gateways: ['gw'], uri: { prefix: '/g' } }], route: [{ destination: { host: 'reviews' } }] },
      { name: 'port', match: [{ port: 8080, uri: { prefix: '/p' } }], route: [{ destination: { host: 'reviews' } }] },
      { name: 'labels', match: [{ sourceLabels: { app: 'x' }, uri: { prefix: '/l' } }], route: [{ destination: { host: 'reviews' } }] },
      { name: 'mine', match: [{ sourceLabels: { istio: 'ingressgateway' }, uri: { prefix: '/m' } }], route: [{ destination: { host: 'reviews' } }] },
    ]);
    assert.deepEqual(rs.map((r) => r.name), ['this-gw', 'mine']);
  });
});

describe('actions', () => {
  it('timeout: 0 (disabled) when unset, as given otherwise; grpc timeout follows', () => {
    assert.deepEqual(action(routes([{ route: [{ destination: { host: 'reviews' } }] }])[0]).timeout, { seconds: 0, nanos: 0 });
    const r = action(routes([{ timeout: '1.5s', route: [{ destination: { host: 'reviews' } }] }])[0]);
    assert.deepEqual(r.timeout, { seconds: 1, nanos: 500_000_000 });
    assert.deepEqual(r.maxGrpcTimeout, { seconds: 1, nanos: 500_000_000 });
  });
  it('redirect: code, path, authority; default port of the scheme is not spelled out', () => {
    const [r] = routes([{ redirect: { uri: '/new', authority: 'b.example.com', redirectCode: 302, scheme: 'https', port: 443 } }]);
    assert.deepEqual(r.redirect, { responseCode: 'FOUND', hostRedirect: 'b.example.com', pathRedirect: '/new', schemeRedirect: 'https' });
    const [d] = routes([{ redirect: { derivePort: 'FROM_REQUEST_PORT' } }], { port: 8080 });
    assert.deepEqual(d.redirect, { responseCode: 'MOVED_PERMANENTLY', portRedirect: 8080 });
  });
  it('direct response with body', () => {
    const [r] = routes([{ directResponse: { status: 418, body: { string: 'teapot' } } }]);
    assert.deepEqual(r.directResponse, { status: 418, body: { inlineString: 'teapot' } });
    assert.equal(r.route, undefined);
  });
  it('rewrite: prefix, regex, authority; a "host" header set becomes a host rewrite', () => {
    const a = action(routes([{ rewrite: { uri: '/v2/', authority: 'internal' }, route: [{ destination: { host: 'reviews' } }] }])[0]);
    assert.equal(a.prefixRewrite, '/v2/');
    assert.equal(a.hostRewriteLiteral, 'internal');
    const b = action(routes([{ rewrite: { uriRegexRewrite: { match: '^/old/(.*)', rewrite: '/new/\\1' } }, route: [{ destination: { host: 'reviews' } }] }])[0]);
    assert.deepEqual(b.regexRewrite, { pattern: { regex: '^/old/(.*)' }, substitution: '/new/\\1' });
    // Validation rejects it, but the translation stays safe: host/":authority" become a host rewrite, pseudo-headers never reach Envoy.
    const ops = translateHeaders({ request: { set: { host: 'h.example.com', 'x-a': '1' }, remove: [':path', 'x-b'] } });
    assert.equal(ops.authority, 'h.example.com');
    assert.deepEqual(ops.requestHeadersToAdd.map((h) => (h.header as Obj).key), ['x-a']);
    assert.deepEqual(ops.requestHeadersToRemove, ['x-b']);
  });
  it('headers: set overwrites, add appends, remove; request and response', () => {
    const [r] = routes([{ headers: { request: { set: { b: '2' }, add: { a: '1' }, remove: ['c'] }, response: { set: { d: '4' }, remove: ['e'] } }, route: [{ destination: { host: 'reviews' } }] }]);
    assert.deepEqual(r.requestHeadersToAdd, [
      { header: { key: 'b', value: '2' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'a', value: '1' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' },
    ]);
    assert.deepEqual(r.requestHeadersToRemove, ['c']);
    assert.deepEqual(r.responseHeadersToAdd, [{ header: { key: 'd', value: '4' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    assert.deepEqual(r.responseHeadersToRemove, ['e']);
  });
  it('mirror percentages: given, legacy integer, default 100, explicit 0 disables', () => {
    const m = (r: Partial<HTTPRoute>) => action(routes([{ route: [{ destination: { host: 'reviews' } }], ...r }])[0]).requestMirrorPolicies as Obj[] | undefined;
    assert.deepEqual(m({ mirror: { host: 'web' }, mirrorPercentage: { value: 12.5 } })?.[0].runtimeFraction, { defaultValue: { numerator: 125000, denominator: 'MILLION' } });
    assert.deepEqual(m({ mirror: { host: 'web' }, mirrorPercent: 10 })?.[0].runtimeFraction, { defaultValue: { numerator: 10, denominator: 'HUNDRED' } });
    assert.deepEqual(m({ mirror: { host: 'web' } })?.[0], { cluster: 'outbound|80||web.default.svc.cluster.local', runtimeFraction: { defaultValue: { numerator: 100, denominator: 'HUNDRED' } }, traceSampled: { value: false }, disableShadowHostSuffixAppend: true });
    assert.equal(m({ mirror: { host: 'web' }, mirrorPercentage: { value: 0 } }), undefined);
  });
  it('fault: fixed delay and abort as per-route filter config', () => {
    const [r] = routes([{ fault: { delay: { fixedDelay: '5s', percentage: { value: 10 } }, abort: { httpStatus: 500, percentage: { value: 1 } } }, route: [{ destination: { host: 'reviews' } }] }]);
    const f = (r.typedPerFilterConfig as Obj)['envoy.filters.http.fault'] as Obj;
    assert.deepEqual(f.delay, { fixedDelay: { seconds: 5, nanos: 0 }, percentage: { numerator: 100000, denominator: 'MILLION' } });
    assert.deepEqual(f.abort, { httpStatus: 500, percentage: { numerator: 10000, denominator: 'MILLION' } });
  });
  it('consistent hash from the DestinationRule: hash policy, retries stay on the host', () => {
    const dr = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: reviews\n  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}';
    const a = action(routes([{ route: [{ destination: { host: 'reviews' } }] }], { extra: dr })[0]);
    assert.deepEqual(a.hashPolicy, [{ header: { headerName: 'x-user' } }]);
    assert.equal((a.retryPolicy as Obj).retryHostPredicate, undefined);
  });
});

describe('retry policy', () => {
  it("Istio's default when unset", () => {
    assert.deepEqual(buildRetryPolicy(undefined), {
      retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
      numRetries: { value: 2 },
      retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
      hostSelectionRetryMaxAttempts: 5,
      retriableStatusCodes: [503],
    });
  });
  it('attempts 0 disables retries', () => assert.equal(buildRetryPolicy({ attempts: 0 }), undefined));
  it('retryOn status codes become retriable-status-codes', () => {
    const p = buildRetryPolicy({ attempts: 4, retryOn: 'gateway-error, 502,504', perTryTimeout: '2s' })!;
    assert.equal(p.retryOn, 'gateway-error,retriable-status-codes');
    assert.deepEqual(p.retriableStatusCodes, [502, 504]);
    assert.deepEqual(p.numRetries, { value: 4 });
    assert.deepEqual(p.perTryTimeout, { seconds: 2, nanos: 0 });
  });
  it('retryOn without codes keeps no status codes; retryIgnorePreviousHosts false drops the predicate', () => {
    const p = buildRetryPolicy({ attempts: 1, retryOn: '5xx', retryIgnorePreviousHosts: false })!;
    assert.equal(p.retryOn, '5xx');
    assert.equal(p.retriableStatusCodes, undefined);
    assert.equal(p.retryHostPredicate, undefined);
  });
});

describe('retry policy shared by a virtual host', () => {
  const fwd = (name: string, retryPolicy?: Obj): Obj => ({ name, match: { prefix: `/${name}` }, route: { cluster: 'c', ...(retryPolicy ? { retryPolicy } : {}) } });
  const redirect: Obj = { name: 'moved', match: { prefix: '/moved' }, redirect: { pathRedirect: '/x' } };
  it('is set once on the virtual host when every forwarding route has it (redirects ignored)', () => {
    const vh = { name: 'h', domains: ['h'], routes: [redirect, fwd('a', buildRetryPolicy(undefined)), fwd('b', buildRetryPolicy(undefined))] };
    const out = hoistRetryPolicy(vh);
    assert.deepEqual(out.retryPolicy, buildRetryPolicy(undefined));
    assert.deepEqual(out.routes, [redirect, fwd('a'), fwd('b')]);
    assert.equal(vh.routes[1].route && (vh.routes[1].route as Obj).retryPolicy !== undefined, true, 'the input is not changed');
  });
  it('stays on the routes when one route has retries off or another policy, or no route forwards', () => {
    const off = { name: 'h', domains: ['h'], routes: [fwd('a', buildRetryPolicy(undefined)), fwd('b')] };
    assert.equal(hoistRetryPolicy(off), off);
    const other = { name: 'h', domains: ['h'], routes: [fwd('a', buildRetryPolicy(undefined)), fwd('b', buildRetryPolicy({ attempts: 3 }))] };
    assert.equal(hoistRetryPolicy(other), other);
    const none = { name: 'h', domains: ['h'], routes: [redirect] };
    assert.equal(hoistRetryPolicy(none), none);
  });
});
