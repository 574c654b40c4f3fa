import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MeshService } from '../../../src/registry/model.js';
import { translate } from '../../../src/translator/index.js';
import { WildcardTcpChains } from '../../../src/translator/outbound-wildcard-tcp.js';
import { computeScope, pickPerHost } from '../../../src/translator/scope.js';
import { ingressEndpoint, type AppEndpoint } from '../../../src/translator/sidecar-inbound.js';
import { buildUpstreamTls } from '../../../src/translator/upstream-tls.js';
import { byName, service, sidecarProxy, snapshot } from './fixtures.js';

type Obj = Record<string, unknown>;

function svc(hostname: string, namespace: string, source: MeshService['source'] = 'serviceentry', addresses: string[] = []): MeshService {
  return { hostname, namespace, name: hostname, source, addresses, ports: [{ name: 'tcp', port: 7000, protocol: 'TCP' }], endpoints: [], resolution: 'NONE', location: 'MESH_EXTERNAL', exportTo: ['*'], labels: {} };
}

function se(name: string, namespace: string, spec: string): string {
  return `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${spec}`;
}

describe('one service per host', () => {
  it('the own namespace wins, else the first', () => {
    const a = svc('x.test', 'a');
    const b = svc('x.test', 'b');
    assert.deepEqual(pickPerHost([a, b], 'b'), [b]);
    assert.deepEqual(pickPerHost([a, b], 'c'), [a]);
  });

  it('a Kubernetes Service shadows a same-namespace ServiceEntry of its host, not one elsewhere', () => {
    const shared = `${service('shared', 'default', [{ name: 'http', port: 8200 }], [{ ip: '10.0.0.5' }])}
---
${se('shared', 'default', '  hosts: [shared.default.svc.cluster.local]\n  resolution: STATIC\n  ports: [{number: 8200, name: http, protocol: HTTP}]\n  endpoints: [{address: 10.0.0.6}]')}`;
    const scope = computeScope(snapshot(shared), sidecarProxy({ app: 'x' }, '10.0.0.9', 'other'));
    assert.deepEqual(scope.services.filter((s) => s.hostname === 'shared.default.svc.cluster.local').map((s) => s.source), ['kubernetes']);
  });

  it('exportTo: a ServiceEntry exported to its namespace only is out of other namespaces’ scope', () => {
    const snap = snapshot(se('p', 'team', '  hosts: [p.test]\n  exportTo: [.]\n  resolution: NONE\n  ports: [{number: 80, name: http, protocol: HTTP}]'));
    assert.equal(computeScope(snap, sidecarProxy({}, '10.0.0.9', 'default')).services.length, 0);
    assert.equal(computeScope(snap, sidecarProxy({}, '10.0.0.9', 'team')).services.length, 1);
  });
});

describe('Sidecar egress listeners with a port', () => {
  const yaml = `${service('web', 'default', [{ name: 'http', port: 9080 }, { name: 'http-admin', port: 9090 }], [{ ip: '10.0.0.5' }])}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - port: {number: 9080, protocol: HTTP, name: http}
    hosts: [./*]`;

  it('only that port of the admitted services gets a listener and route', () => {
    const out = translate(snapshot(yaml), sidecarProxy({}));
    assert.ok(out.routes.some((r) => r.name === '9080'));
    assert.ok(!out.routes.some((r) => r.name === '9090'));
    // Clusters stay for every port (a VirtualService may still name them).
    assert.ok(out.clusters.some((c) => c.name === 'outbound|9090||web.default.svc.cluster.local'));
  });

  it('a port-less egress listener admitting the same hosts brings all ports back', () => {
    const out = translate(snapshot(`${yaml}\n  - hosts: [./*]`), sidecarProxy({}));
    assert.ok(out.routes.some((r) => r.name === '9090'));
  });
});

describe('outboundTrafficPolicy.egressProxy', () => {
  const yaml = (mode: string) => `${service('egress-proxy', 'default', [{ name: 'tcp', port: 3128 }], [{ ip: '10.0.0.7' }])}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: [istio-system/*]}]
  outboundTrafficPolicy: {mode: ${mode}, egressProxy: {host: egress-proxy, port: {number: 3128}}}`;

  it('ALLOW_ANY: the catch-all goes to the egress proxy cluster, which exists even outside the egress hosts', () => {
    const out = translate(snapshot(yaml('ALLOW_ANY')), sidecarProxy({}));
    const vo = byName(out.listeners, 'virtualOutbound') as { filterChains: Array<{ filters: Array<{ typedConfig: Obj }> }> };
    assert.equal(vo.filterChains[0].filters[0].typedConfig.cluster, 'outbound|3128||egress-proxy.default.svc.cluster.local');
    byName(out.clusters, 'outbound|3128||egress-proxy.default.svc.cluster.local');
  });

  it('with REGISTRY_ONLY the Sidecar is refused by validation, naming the field', () => {
    assert.throws(() => snapshot(yaml('REGISTRY_ONLY')), /spec\.outboundTrafficPolicy\.egressProxy.*needs mode ALLOW_ANY/);
  });
});

describe('outboundTrafficPolicy mode', () => {
  const sc = (policy: string) => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: default}\nspec:\n  egress: [{hosts: [./*]}]\n${policy}`;
  const cases: Array<[string, string]> = [['', 'ALLOW_ANY'], ['  outboundTrafficPolicy: {}', 'REGISTRY_ONLY'], ['  outboundTrafficPolicy: {mode: ALLOW_ANY}', 'ALLOW_ANY']];
  for (const [policy, want] of cases) {
    it(`${policy.trim() || 'no policy'} → ${want}`, () => assert.equal(computeScope(snapshot(sc(policy)), sidecarProxy({})).outboundPolicy, want));
  }
});

describe('wildcard TCP chains (CIDR addresses, address-less ServiceEntries)', () => {
  const filter = (c: string): Obj => ({ name: 'tcp', typedConfig: { cluster: c } });
  const tcp = (port: number, protocol: MeshService['ports'][number]['protocol'] = 'TCP') => ({ name: 'p', port, protocol });

  it('address-less TLS ServiceEntries share the port by SNI, with the TLS inspector', () => {
    const w = new WildcardTcpChains();
    w.add(svc('b.test', 'default'), tcp(443, 'TLS'), filter('b'));
    w.add(svc('*.a.test', 'default'), tcp(443, 'HTTPS'), filter('a'));
    const listeners: Array<{ name: string; value: Obj }> = [];
    w.addTo(listeners, () => filter('BlackHoleCluster'));
    const v = listeners[0].value as { listenerFilters: Array<{ name: string }>; filterChains: Array<{ filterChainMatch: Obj }>; defaultFilterChain: { filters: Obj[] } };
    assert.deepEqual(v.listenerFilters.map((f) => f.name), ['envoy.filters.listener.tls_inspector']);
    assert.deepEqual(v.filterChains.map((c) => c.filterChainMatch), [{ serverNames: ['*.a.test'] }, { serverNames: ['b.test'] }]);
    assert.deepEqual(v.defaultFilterChain.filters, [filter('BlackHoleCluster')]);
  });

  it('a CIDR becomes a prefix-range chain on a new 0.0.0.0_PORT listener whose default is the catch-all', () => {
    const w = new WildcardTcpChains();
    w.add(svc('c.test', 'default', 'serviceentry', ['10.1.0.0/16']), tcp(7000), filter('c'));
    const listeners: Array<{ name: string; value: Obj }> = [];
    w.addTo(listeners, () => filter('BlackHoleCluster'));
    assert.deepEqual(listeners.map((l) => l.name), ['0.0.0.0_7000']);
    const v = listeners[0].value as { filterChains: Array<{ filterChainMatch: Obj }>; defaultFilterChain: { filters: Obj[] } };
    assert.deepEqual(v.filterChains[0].filterChainMatch, { prefixRanges: [{ addressPrefix: '10.1.0.0', prefixLen: { value: 16 } }] });
    assert.deepEqual(v.defaultFilterChain.filters, [filter('BlackHoleCluster')]);
  });

  it('an address-less ServiceEntry takes the default chain; Kubernetes services and plain VIPs add nothing', () => {
    const w = new WildcardTcpChains();
    w.add(svc('none.test', 'default'), tcp(7000), filter('none'));
    w.add(svc('second.test', 'default'), tcp(7000), filter('second'));
    w.add(svc('k.svc', 'default', 'kubernetes'), tcp(7001), filter('k'));
    w.add(svc('vip.test', 'default', 'serviceentry', ['10.2.0.1']), tcp(7002), filter('vip'));
    const listeners: Array<{ name: string; value: Obj }> = [];
    w.addTo(listeners, () => filter('PassthroughCluster'));
    assert.deepEqual(listeners.map((l) => l.name), ['0.0.0.0_7000']);
    assert.deepEqual((listeners[0].value as { defaultFilterChain: { filters: Obj[] } }).defaultFilterChain.filters, [filter('none')]);
  });

  it('CIDR chains go in front of an existing HTTP wildcard listener of the port', () => {
    const w = new WildcardTcpChains();
    w.add(svc('c.test', 'default', 'serviceentry', ['10.1.0.0/16']), tcp(8080), filter('c'));
    const listeners = [{ name: '0.0.0.0_8080', value: { filterChains: [{ filters: [filter('hcm')] }] } as Obj }];
    w.addTo(listeners, () => filter('x'));
    assert.equal(listeners.length, 1);
    assert.equal((listeners[0].value.filterChains as Obj[]).length, 2);
    assert.equal((listeners[0].value as { defaultFilterChain?: Obj }).defaultFilterChain, undefined);
  });
});

describe('Sidecar ingress', () => {
  const port = { number: 9080, protocol: 'HTTP', name: 'http' };
  const cases: Array<[string | undefined, AppEndpoint]> = [
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:8081', { host: '10.244.9.9', port: 8081 }],
    ['[::1]:8082', { host: '::1', port: 8082 }],
    ['unix:///var/run/app.sock', { pipe: '/var/run/app.sock' }],
    [undefined, { host: '127.0.0.1', port: 9080 }],
  ];
  for (const [defaultEndpoint, want] of cases) {
    it(`defaultEndpoint ${defaultEndpoint ?? '(none)'} → ${JSON.stringify(want)}`, () => {
      assert.deepEqual(ingressEndpoint({ port, ...(defaultEndpoint ? { defaultEndpoint } : {}) }, '10.244.9.9'), want);
    });
  }

  const sidecarYaml = (ingressExtra: string) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s, namespace: default}
spec:
  workloadSelector: {labels: {app: s}}
  inboundConnectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 2}}
  ingress:
  - port: {number: 9080, protocol: HTTP, name: http}
    defaultEndpoint: 127.0.0.1:8080
  - port: {number: 9443, protocol: HTTPS, name: https}
    defaultEndpoint: 127.0.0.1:8080
${ingressExtra}`;

  it('inboundConnectionPool sets the inbound clusters’ circuit breakers; a listener connectionPool overrides it', () => {
    const out = translate(snapshot(sidecarYaml('    connectionPool: {tcp: {maxConnections: 50}}')), sidecarProxy({ app: 's' }));
    const limits = (name: string) => ((byName(out.clusters, name).circuitBreakers as { thresholds: Array<{ maxConnections: { value: number }; maxPendingRequests: { value: number } }> }).thresholds[0]);
    assert.equal(limits('inbound|9080||').maxConnections.value, 1);
    assert.equal(limits('inbound|9080||').maxPendingRequests.value, 2);
    assert.equal(limits('inbound|9443||').maxConnections.value, 50);
  });

  it('tls with files terminates on the port’s chain (HTTPS then carries HTTP); without a certificate the Sidecar is refused', () => {
    const ok = translate(snapshot(sidecarYaml('    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}')), sidecarProxy({ app: 's' }));
    const chains = (byName(ok.listeners, 'virtualInbound') as { filterChains: Array<{ name: string; transportSocket?: Obj; filters: Array<{ name: string }> }> }).filterChains;
    const tlsChain = chains.find((c) => c.name === '0.0.0.0_9443')!;
    assert.equal(tlsChain.transportSocket?.name, 'envoy.transport_sockets.tls');
    assert.equal(tlsChain.filters[0].name, 'envoy.filters.network.http_connection_manager');
    // Without a certificate the Sidecar never reaches the translator: validation names the field.
    assert.throws(() => snapshot(sidecarYaml('    tls: {mode: SIMPLE}')), /spec\.ingress\[1\]\.tls.*needs serverCertificate and privateKey/);
  });
});

describe('upstream TLS origination', () => {
  const seSvc: MeshService = { ...svc('api.test', 'default'), subjectAltNames: ['api.test', 'spiffe-ish'] };
  const sans = (t: Obj | undefined) => ((t?.typedConfig as { commonTlsContext: { validationContext?: { matchTypedSubjectAltNames?: Array<{ matcher: { exact: string } }> } } }).commonTlsContext.validationContext?.matchTypedSubjectAltNames ?? []).map((m) => m.matcher.exact);

  it("uses the ServiceEntry's subjectAltNames when the rule lists none, the rule's otherwise", () => {
    assert.deepEqual(sans(buildUpstreamTls({ mode: 'SIMPLE', caCertificates: '/ca.pem' }, 'api.test', seSvc)), ['api.test', 'spiffe-ish']);
    assert.deepEqual(sans(buildUpstreamTls({ mode: 'SIMPLE', subjectAltNames: ['x'] }, 'api.test', seSvc)), ['x']);
  });

  it('sni defaults to the host; insecureSkipVerify drops validation; DISABLE / ISTIO_MUTUAL / credentialName build nothing here', () => {
    const t = buildUpstreamTls({ mode: 'SIMPLE', insecureSkipVerify: true }, 'api.test', seSvc)!;
    assert.equal((t.typedConfig as Obj).sni, 'api.test');
    assert.deepEqual((t.typedConfig as Obj).commonTlsContext, {});
    for (const mode of ['DISABLE', 'ISTIO_MUTUAL'] as const) assert.equal(buildUpstreamTls({ mode }, 'api.test', seSvc), undefined);
    assert.equal(buildUpstreamTls({ mode: 'SIMPLE', credentialName: 'c' }, 'api.test', seSvc), undefined);
  });

  it('MUTUAL presents the client certificate', () => {
    const t = buildUpstreamTls({ mode: 'MUTUAL', clientCertificate: '/c.pem', privateKey: '/k.pem', caCertificates: '/ca.pem' }, 'api.test', undefined)!;
    assert.deepEqual(((t.typedConfig as Obj).commonTlsContext as Obj).tlsCertificates, [{ certificateChain: { filename: '/c.pem' }, privateKey: { filename: '/k.pem' } }]);
  });
});
