import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConsistency, translate } from '../../../src/translator/index.js';
import type { XdsResources } from '../../../src/translator/types.js';
import { OTHER_KEY, TEST_CERT, TEST_KEY } from '../test-pem.js';
import { byName, gatewayProxy, service, sidecarProxy, snapshot } from './fixtures.js';

type Obj = Record<string, unknown>;

const gw = (servers: unknown[], name = 'gw', namespace = 'default') =>
  `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n  selector: {istio: ingressgateway}\n  servers: ${JSON.stringify(servers)}`;
const vs = (name: string, hosts: string[], spec: Obj, gateways = ['gw'], namespace = 'default') =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${JSON.stringify({ hosts, gateways, ...spec })}`;
const http = (number: number, hosts: string[], extra: Obj = {}) => ({ port: { number, name: `http-${number}`, protocol: 'HTTP' }, hosts, ...extra });
const toReviews = { http: [{ route: [{ destination: { host: 'reviews' } }] }] };
const tlsSecret = (name: string, ns = 'istio-system', ca = false) =>
  `apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {name: ${name}, namespace: ${ns}}\nstringData: ${JSON.stringify({ 'tls.crt': TEST_CERT, 'tls.key': TEST_KEY, ...(ca ? { 'ca.crt': TEST_CERT } : {}) })}`;
const reviews = service('reviews', 'default', [{ name: 'http', port: 9080 }], [
  { ip: '10.244.1.1', labels: { version: 'v1' } },
  { ip: '10.244.1.2', labels: { version: 'v2' } },
  { ip: '10.244.1.3', labels: { version: 'v2' }, ready: false },
]);

function gateway(...docs: string[]): XdsResources & { notes?: string[] } {
  const out = translate(snapshot(docs.join('\n---\n')), gatewayProxy());
  assert.deepEqual(checkConsistency(out), [], 'every RDS / EDS / SDS reference resolves');
  return out;
}
const names = (l: Array<{ name: string }>) => l.map((x) => x.name);
const hcm = (chain: Obj) => ((chain.filters as Obj[])[0].typedConfig as Obj);
const vhosts = (r: XdsResources, route: string) => (byName(r.routes, route).virtualHosts as Obj[]);

describe('gateway listeners', () => {
  it('one listener per port named 0.0.0.0_PORT, HTTP connection manager with RDS http.PORT', () => {
    const r = gateway(gw([http(80, ['a.example.com']), http(8080, ['a.example.com'])]), vs('a', ['a.example.com'], toReviews), reviews);
    assert.deepEqual(names(r.listeners), ['0.0.0.0_80', '0.0.0.0_8080']);
    const l = byName(r.listeners, '0.0.0.0_80');
    assert.deepEqual(l.address, { socketAddress: { address: '0.0.0.0', portValue: 80 } });
    const cfg = hcm((l.filterChains as Obj[])[0]);
    assert.equal(cfg.statPrefix, 'outbound_0.0.0.0_80');
    assert.deepEqual((cfg.rds as Obj).routeConfigName, 'http.80');
    assert.deepEqual(cfg.useRemoteAddress, { value: true });
    assert.equal((cfg.httpFilters as Obj[]).at(-1)!.name, 'envoy.filters.http.router');
    assert.equal(l.listenerFilters, undefined);
  });
  it('servers on the same port merge into one listener and one route configuration', () => {
    const r = gateway(gw([http(80, ['a.example.com']), http(80, ['b.example.com'])]), gw([http(80, ['c.example.com'])], 'gw2'),
      vs('a', ['a.example.com', 'b.example.com'], toReviews), vs('c', ['c.example.com'], toReviews, ['gw2']), reviews);
    assert.deepEqual(names(r.listeners), ['0.0.0.0_80']);
    assert.equal((byName(r.listeners, '0.0.0.0_80').filterChains as Obj[]).length, 1);
    assert.deepEqual(names(r.routes), ['http.80']);
    assert.deepEqual(vhosts(r, 'http.80').flatMap((v) => v.domains as string[]).sort(), ['a.example.com', 'b.example.com', 'c.example.com']);
  });
  it('virtual hosts with identical routes collapse into one named after the first host; routes that differ stay apart', () => {
    const prefixed = (prefix: string) => ({ http: [{ match: [{ uri: { prefix } }], route: [{ destination: { host: 'reviews' } }] }, { route: [{ destination: { host: 'reviews' } }] }] });
    const r = gateway(gw([http(80, ['*.example.com'])]), reviews,
      vs('x', ['y.example.com', 'x.example.com'], prefixed('/a')),
      // The same rules from another VirtualService differ in their route metadata (which names it).
      vs('z', ['z.example.com'], prefixed('/a')),
      vs('w', ['w.example.com'], toReviews));
    assert.deepEqual(vhosts(r, 'http.80').map((v) => [v.name, v.domains]), [
      ['w.example.com:80', ['w.example.com']],
      ['x.example.com:80', ['x.example.com', 'y.example.com']],
      ['z.example.com:80', ['z.example.com']],
    ]);
  });
  it('bind address: listener BIND_PORT and route http.PORT.BIND', () => {
    const r = gateway(gw([http(8080, ['a.example.com'], { bind: '10.0.0.1' })]), vs('a', ['a.example.com'], toReviews), reviews);
    assert.deepEqual(names(r.listeners), ['10.0.0.1_8080']);
    assert.deepEqual(names(r.routes), ['http.8080.10.0.0.1']);
    assert.equal((byName(r.listeners, '10.0.0.1_8080').address as { socketAddress: Obj }).socketAddress.address, '10.0.0.1');
  });
  it('a TCP server conflicting with an HTTP server on the same port is skipped with a note', () => {
    const r = gateway(gw([http(80, ['a.example.com']), { port: { number: 80, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] }]), vs('a', ['a.example.com'], toReviews), reviews);
    assert.equal((byName(r.listeners, '0.0.0.0_80').filterChains as Obj[]).length, 1);
    assert.ok(r.notes?.some((n) => n.includes('spec.servers[1]') && n.includes('conflicts')), String(r.notes));
  });
  it('listens on the target port when a Service maps the server port to the gateway workload', () => {
    const gwSvc = service('istio-ingressgateway', 'istio-system', [{ name: 'http2', port: 80, targetPort: 8080 }], [{ ip: '10.0.0.1', labels: { istio: 'ingressgateway' } }]);
    const r = gateway(gw([http(80, ['a.example.com'])]), vs('a', ['a.example.com'], toReviews), reviews, gwSvc);
    assert.deepEqual(names(r.listeners), ['0.0.0.0_8080']);
    assert.deepEqual(names(r.routes), ['http.8080']);
    assert.equal(vhosts(r, 'http.8080')[0].name, 'a.example.com:80');
  });
});

describe('gateway TLS', () => {
  const https = (name: string, hosts: string[], tls: Obj) => ({ port: { number: 443, name, protocol: 'HTTPS' }, hosts, tls });
  it('an SNI filter chain per HTTPS server, certificates over SDS from the gateway namespace, tls_inspector', () => {
    const r = gateway(gw([https('https-a', ['a.example.com'], { mode: 'SIMPLE', credentialName: 'cert-a' }), https('https-b', ['*'], { mode: 'SIMPLE', credentialName: 'cert-b' })]),
      vs('a', ['a.example.com'], toReviews), reviews, tlsSecret('cert-a'), tlsSecret('cert-b'), tlsSecret('cert-a', 'default'));
    const l = byName(r.listeners, '0.0.0.0_443');
    assert.equal((l.listenerFilters as Obj[])[0].name, 'envoy.filters.listener.tls_inspector');
    const chains = l.filterChains as Obj[];
    assert.deepEqual(chains.map((c) => c.filterChainMatch), [{ serverNames: ['a.example.com'] }, undefined]);
    const ctx = (chains[0].transportSocket as { typedConfig: Obj }).typedConfig;
    assert.equal(ctx['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    assert.deepEqual((ctx.commonTlsContext as Obj).tlsCertificateSdsSecretConfigs, [{ name: 'kubernetes://cert-a', sdsConfig: { ads: {}, initialFetchTimeout: { seconds: 0, nanos: 0 }, resourceApiVersion: 'V3' } }]);
    assert.deepEqual((hcm(chains[0]).rds as Obj).routeConfigName, 'https.443.https-a.gw.default');
    assert.deepEqual(names(r.secrets), ['kubernetes://cert-a', 'kubernetes://cert-b']);
    assert.deepEqual(byName(r.secrets, 'kubernetes://cert-a').tlsCertificate, { certificateChain: { inlineString: TEST_CERT }, privateKey: { inlineString: TEST_KEY } });
  });
  it('a server whose secret is missing gets no filter chain (and a note); no empty listener', () => {
    const r = gateway(gw([https('https', ['a.example.com'], { mode: 'SIMPLE', credentialName: 'nope' })]), vs('a', ['a.example.com'], toReviews), reviews, tlsSecret('nope', 'default'));
    assert.deepEqual(r.listeners, []);
    assert.deepEqual(r.routes, []);
    assert.deepEqual(r.secrets, []);
    assert.ok(r.notes?.some((n) => n.includes('istio-system/nope')), String(r.notes));
  });
  it('a server whose Secret holds material Envoy would reject waits like a missing one, and the note says why', () => {
    const bad = `apiVersion: v1\nkind: Secret\nmetadata: {name: bad, namespace: istio-system}\nstringData: ${JSON.stringify({ 'tls.crt': TEST_CERT, 'tls.key': OTHER_KEY })}`;
    const r = gateway(gw([https('https', ['a.example.com'], { mode: 'SIMPLE', credentialName: 'bad' })]), vs('a', ['a.example.com'], toReviews), reviews, bad);
    assert.deepEqual(r.secrets, []);
    assert.ok(r.notes?.some((n) => n.includes('istio-system/bad is unusable (tls.crt/tls.key: the private key does not match the certificate)')), String(r.notes));
  });
  it('cipher suites Envoy does not know are dropped (duplicates too); none left means Envoy\'s defaults', () => {
    const params = (cipherSuites: string[]) => {
      const r = gateway(gw([https('https', ['a.example.com'], { mode: 'SIMPLE', credentialName: 'c', cipherSuites })]), vs('a', ['a.example.com'], toReviews), reviews, tlsSecret('c'));
      const ctx = (((byName(r.listeners, '0.0.0.0_443').filterChains as Obj[])[0].transportSocket as { typedConfig: Obj }).typedConfig);
      return (ctx.commonTlsContext as Obj).tlsParams as Obj | undefined;
    };
    assert.deepEqual(params(['TLS_FAKE', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'AES256-SHA']), { cipherSuites: ['ECDHE-RSA-AES128-GCM-SHA256', 'AES256-SHA'] });
    assert.equal(params(['TLS_FAKE'])?.cipherSuites, undefined);
  });
  it('MUTUAL: client certificates required, CA from NAME-cacert, subjectAltNames matched for every SAN type', () => {
    const ca = `apiVersion: v1\nkind: Secret\nmetadata: {name: c-cacert, namespace: istio-system}\nstringData: ${JSON.stringify({ 'ca.crt': TEST_CERT })}`;
    const r = gateway(gw([https('https', ['a.example.com'], { mode: 'MUTUAL', credentialName: 'c', subjectAltNames: ['client.example.com'] })]), vs('a', ['a.example.com'], toReviews), reviews, tlsSecret('c'), ca);
    const ctx = (((byName(r.listeners, '0.0.0.0_443').filterChains as Obj[])[0].transportSocket as { typedConfig: Obj }).typedConfig);
    assert.deepEqual(ctx.requireClientCertificate, { value: true });
    const combined = (ctx.commonTlsContext as Obj).combinedValidationContext as Obj;
    assert.equal((combined.validationContextSdsSecretConfig as Obj).name, 'kubernetes://c-cacert');
    const sans = (combined.defaultValidationContext as Obj).matchTypedSubjectAltNames as Array<{ sanType: string; matcher: Obj }>;
    assert.deepEqual(sans.map((m) => m.sanType), ['DNS', 'URI', 'EMAIL', 'IP_ADDRESS']);
    assert.ok(sans.every((m) => (m.matcher as { exact: string }).exact === 'client.example.com'));
    assert.deepEqual(byName(r.secrets, 'kubernetes://c-cacert').validationContext, { trustedCa: { inlineString: TEST_CERT } });
  });
  it('httpsRedirect: virtual hosts require TLS (Envoy answers 301), also for hosts no VirtualService declares', () => {
    const r = gateway(gw([http(80, ['a.example.com', 'b.example.com'], { tls: { httpsRedirect: true } })]), vs('a', ['a.example.com'], toReviews), reviews);
    const v = vhosts(r, 'http.80');
    assert.deepEqual(v.map((x) => [x.name, x.requireTls, (x.routes as Obj[]).length]), [['a.example.com:80', 'ALL', 1], ['b.example.com:80', 'ALL', 0]]);
  });
  it('TLS passthrough: a chain per tls route match on its SNI hosts, tcp_proxy to the destination', () => {
    const passthrough = { port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['*.example.com'], tls: { mode: 'PASSTHROUGH' } };
    const r = gateway(gw([passthrough]), vs('p', ['a.example.com'], { tls: [{ match: [{ sniHosts: ['a.example.com'] }], route: [{ destination: { host: 'reviews', port: { number: 9080 } } }] }] }), reviews);
    const chains = byName(r.listeners, '0.0.0.0_443').filterChains as Obj[];
    assert.deepEqual(chains[0].filterChainMatch, { serverNames: ['a.example.com'] });
    assert.equal(chains[0].transportSocket, undefined);
    assert.equal(hcm(chains[0]).cluster, 'outbound|9080||reviews.default.svc.cluster.local');
  });
  it('AUTO_PASSTHROUGH: a chain per outbound cluster the server hosts admit, matched by Istio\'s SNI, no VirtualService needed', () => {
    const auto = { port: { number: 15443, name: 'tls', protocol: 'TLS' }, hosts: ['*.svc.cluster.local'], tls: { mode: 'AUTO_PASSTHROUGH' } };
    const dr = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\nspec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}';
    const other = service('ext', 'default', [{ name: 'tls', port: 443 }], [{ ip: '10.244.2.1', labels: {} }]);
    const r = gateway(gw([auto]), reviews, other, dr);
    const chains = byName(r.listeners, '0.0.0.0_15443').filterChains as Obj[];
    assert.deepEqual(chains.map((c) => [(c.filterChainMatch as { serverNames: string[] }).serverNames[0], hcm(c).cluster]), [
      ['outbound_.443_._.ext.default.svc.cluster.local', 'outbound|443||ext.default.svc.cluster.local'],
      ['outbound_.9080_.v1_.reviews.default.svc.cluster.local', 'outbound|9080|v1|reviews.default.svc.cluster.local'],
      ['outbound_.9080_._.reviews.default.svc.cluster.local', 'outbound|9080||reviews.default.svc.cluster.local'],
    ]);
    assert.ok(chains.every((c) => c.transportSocket === undefined), 'TLS is not terminated');
    const narrow = gateway(gw([{ ...auto, hosts: ['reviews.default.svc.cluster.local'] }]), reviews, other, dr);
    assert.equal((byName(narrow.listeners, '0.0.0.0_15443').filterChains as Obj[]).length, 2, 'only the clusters of the admitted host');
  });
  it('ISTIO_MUTUAL servers are skipped with a note (no mesh certificates)', () => {
    const r = gateway(gw([{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.example.com'], tls: { mode: 'ISTIO_MUTUAL' } }]), vs('a', ['a.example.com'], toReviews), reviews);
    assert.deepEqual(r.listeners, []);
    assert.ok(r.notes?.some((n) => n.includes('ISTIO_MUTUAL')), String(r.notes));
  });
  it('TCP server: tcp_proxy to the tcp route destination (weighted when several)', () => {
    const tcp = { port: { number: 3306, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] };
    const r = gateway(gw([tcp]), vs('t', ['*'], { tcp: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 80 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 20 }] }] }), reviews);
    const cfg = hcm((byName(r.listeners, '0.0.0.0_3306').filterChains as Obj[])[0]);
    assert.equal(cfg.statPrefix, 't.default');
    assert.deepEqual(cfg.weightedClusters, { clusters: [{ name: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: 80 }, { name: 'outbound|9080|v2|reviews.default.svc.cluster.local', weight: 20 }] });
  });
});

describe('gateway route configurations', () => {
  it('virtual hosts only for declared hosts: no catch-all, so other hosts get 404', () => {
    const r = gateway(gw([http(80, ['*'])]), vs('a', ['a.example.com'], toReviews), reviews);
    const v = vhosts(r, 'http.80');
    assert.deepEqual(v.map((x) => x.domains), [['a.example.com']]);
    assert.equal(v[0].name, 'a.example.com:80');
    assert.deepEqual(byName(r.routes, 'http.80').ignorePortInHostMatching, true);
  });
  it('a VirtualService declaring "*" gets the catch-all domain', () => {
    const r = gateway(gw([http(80, ['*'])]), vs('all', ['*'], toReviews), reviews);
    assert.deepEqual(vhosts(r, 'http.80').map((x) => x.domains), [['*']]);
  });
  it('no VirtualService: an explicit 404 virtual host', () => {
    const r = gateway(gw([http(80, ['a.example.com'])]), reviews);
    assert.deepEqual(vhosts(r, 'http.80'), [{ name: 'blackhole:80', domains: ['*'], routes: [] }]);
  });
  it('VirtualServices not exported to the gateway namespace are ignored', () => {
    const hidden = vs('a', ['a.example.com'], { ...toReviews, exportTo: ['.'] }, ['istio-system/gw'], 'default');
    const r = gateway(gw([http(80, ['*'])], 'gw', 'istio-system'), hidden, reviews);
    assert.equal(vhosts(r, 'http.80')[0].name, 'blackhole:80');
  });
  it('several VirtualServices for one host merge in order, catch-all routes last', () => {
    const first = vs('first', ['a.example.com'], { http: [{ name: 'all', route: [{ destination: { host: 'reviews' } }] }] });
    const second = vs('second', ['a.example.com'], { http: [{ name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'reviews' } }] }] });
    const r = gateway(gw([http(80, ['a.example.com'])]), first, second, reviews);
    assert.deepEqual((vhosts(r, 'http.80')[0].routes as Obj[]).map((x) => x.name), ['api', 'all']);
  });
});

describe('gateway clusters and endpoints', () => {
  const dr = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\nspec:\n  host: reviews\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]';
  it('a cluster per visible service port and subset, EDS over ADS, 10s connect timeout; BlackHoleCluster', () => {
    const hidden = service('private', 'other', [{ name: 'http', port: 80 }]).replace('spec:\n', 'spec:\n').replace('metadata: {name: private, namespace: other}', 'metadata: {name: private, namespace: other, annotations: {networking.istio.io/exportTo: "."}}');
    const r = gateway(gw([http(80, ['a.example.com'])]), vs('a', ['a.example.com'], toReviews), reviews, dr, service('web', 'default', [{ name: 'http', port: 80 }]), hidden);
    assert.deepEqual(names(r.clusters), [
      'BlackHoleCluster',
      'outbound|80||web.default.svc.cluster.local',
      'outbound|9080|v1|reviews.default.svc.cluster.local',
      'outbound|9080|v2|reviews.default.svc.cluster.local',
      'outbound|9080||reviews.default.svc.cluster.local',
    ].sort());
    const c = byName(r.clusters, 'outbound|9080|v1|reviews.default.svc.cluster.local');
    assert.equal(c.type, 'EDS');
    assert.deepEqual(c.edsClusterConfig, { edsConfig: { ads: {}, initialFetchTimeout: { seconds: 0, nanos: 0 }, resourceApiVersion: 'V3' }, serviceName: 'outbound|9080|v1|reviews.default.svc.cluster.local' });
    assert.deepEqual(c.connectTimeout, { seconds: 10, nanos: 0 });
    assert.equal(c.lbPolicy, 'ROUND_ROBIN');
    assert.equal(byName(r.clusters, 'outbound|80||web.default.svc.cluster.local').lbPolicy, 'LEAST_REQUEST');
  });
  it('endpoints: ready ones matching the subset labels, on the target port', () => {
    const r = gateway(gw([http(80, ['a.example.com'])]), vs('a', ['a.example.com'], toReviews), reviews, dr);
    const ips = (cla: string) => ((byName(r.endpoints, cla).endpoints as Obj[]).flatMap((l) => l.lbEndpoints as Obj[]))
      .map((e) => ((e.endpoint as Obj).address as { socketAddress: Obj }).socketAddress);
    assert.deepEqual(ips('outbound|9080||reviews.default.svc.cluster.local'), [{ address: '10.244.1.1', portValue: 9080 }, { address: '10.244.1.2', portValue: 9080 }]);
    assert.deepEqual(ips('outbound|9080|v2|reviews.default.svc.cluster.local'), [{ address: '10.244.1.2', portValue: 9080 }]);
  });
  it('a subset no DestinationRule defines: the route points at a cluster that does not exist (503 NC), no EDS name without CLA', () => {
    const r = gateway(gw([http(80, ['a.example.com'])]), vs('a', ['a.example.com'], { http: [{ route: [{ destination: { host: 'reviews', subset: 'v9' } }] }] }), reviews);
    const route = (vhosts(r, 'http.80')[0].routes as Obj[])[0];
    assert.equal((route.route as Obj).cluster, 'outbound|9080|v9|reviews.default.svc.cluster.local');
    assert.ok(!names(r.clusters).includes('outbound|9080|v9|reviews.default.svc.cluster.local'));
  });
  it('target port from the endpoint port of the same name', () => {
    const svc = service('app', 'default', [{ name: 'http', port: 80, targetPort: 8080 }], [{ ip: '10.244.2.1' }]);
    const r = gateway(gw([http(80, ['a.example.com'])]), vs('a', ['a.example.com'], { http: [{ route: [{ destination: { host: 'app' } }] }] }), svc);
    const ep = (((byName(r.endpoints, 'outbound|80||app.default.svc.cluster.local').endpoints as Obj[])[0].lbEndpoints as Obj[])[0].endpoint as Obj);
    assert.deepEqual(ep.address, { socketAddress: { address: '10.244.2.1', portValue: 8080 } });
  });
});

describe('translate', () => {
  it('is deterministic and sorted by name', () => {
    const docs = [gw([http(80, ['b.example.com', 'a.example.com']), http(81, ['*'])]), vs('a', ['b.example.com', 'a.example.com'], toReviews), reviews, service('web', 'default', [{ name: 'http', port: 80 }])].join('\n---\n');
    const a = translate(snapshot(docs), gatewayProxy());
    const b = translate(snapshot(docs), gatewayProxy());
    assert.deepEqual(a, b);
    for (const kind of ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'] as const) {
      const n = names(a[kind]);
      assert.deepEqual(n, [...n].sort(), kind);
    }
  });
  it('a proxy no Gateway selects gets nothing but BlackHoleCluster and the service clusters', () => {
    const r = translate(snapshot([gw([http(80, ['*'])]), reviews].join('\n---\n')), gatewayProxy({ istio: 'egressgateway' }));
    assert.deepEqual(r.listeners, []);
    assert.deepEqual(r.routes, []);
  });
  it('sidecars get sidecar listeners (virtualOutbound / virtualInbound), not gateway ones', () => {
    const r = translate(snapshot([gw([http(80, ['*'])]), reviews].join('\n---\n')), sidecarProxy({ app: 'productpage' }));
    assert.ok(names(r.listeners).includes('virtualOutbound'));
    assert.ok(!names(r.listeners).includes('0.0.0.0_80'));
  });
});

describe('consistency check', () => {
  const base = (): XdsResources => ({ listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] });
  it('reports a listener RDS name without route configuration', () => {
    const r = base();
    r.listeners.push({ name: 'l', value: { filterChains: [{ filters: [{ typedConfig: { rds: { routeConfigName: 'http.80' } } }] }] } });
    assert.deepEqual(checkConsistency(r), ['listener l references missing route configuration http.80']);
  });
  it('reports an EDS cluster without ClusterLoadAssignment and a missing SDS secret', () => {
    const r = base();
    r.clusters.push({ name: 'c', value: { type: 'EDS', edsClusterConfig: { serviceName: 'c' } } });
    r.listeners.push({ name: 'l', value: { filterChains: [{ transportSocket: { typedConfig: { commonTlsContext: { tlsCertificateSdsSecretConfigs: [{ name: 'kubernetes://x', sdsConfig: { ads: {} } }] } } } }] } });
    assert.deepEqual(checkConsistency(r).sort(), ['cluster c has no ClusterLoadAssignment c', 'listener l references missing secret kubernetes://x']);
  });
});
