/** explainRequest over the translator's output: gateway and sidecar walks, and every kind of outcome. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainRequest, type Explanation } from '../../../src/explain/http.js';
import { parseRequest } from '../../../src/explain/request.js';
import type { ProxyInfo } from '../../../src/proxy/node.js';
import { translate } from '../../../src/translator/index.js';
import { gatewayProxy, service, sidecarProxy, snapshot } from '../translator/fixtures.js';

const MESH = [
  service('reviews', 'default', [{ name: 'http', port: 9080 }], [{ ip: '10.1.0.1', labels: { version: 'v1' } }, { ip: '10.1.0.2', labels: { version: 'v2' } }]),
  service('db', 'default', [{ name: 'tcp', port: 5432 }], [{ ip: '10.1.0.9' }]),
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v9, labels: {version: v9}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 8081, name: http-redirect, protocol: HTTP}
    hosts: ["secure.example.com"]
    tls: {httpsRedirect: true}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: default}
spec:
  hosts: ["shop.example.com", "secure.example.com"]
  gateways: [istio-system/gw, mesh]
  http:
  - name: moved
    match: [{uri: {exact: /old}}]
    redirect: {uri: /new, redirectCode: 302}
  - name: teapot
    match: [{uri: {prefix: /tea}}]
    directResponse: {status: 418, body: {string: short and stout}}
  - name: canary
    match: [{headers: {x-canary: {exact: "1"}}}]
    route: [{destination: {host: reviews, subset: v9}}]
  - name: split
    route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v2}, weight: 25}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`,
].join('\n---\n');

const snap = snapshot(MESH);

function explain(proxy: ProxyInfo, tokens: string[], address?: string): Explanation {
  const r = parseRequest(tokens);
  if (!r.ok) throw new Error(r.error);
  return explainRequest({ proxy: { id: proxy.id, type: proxy.type }, resources: translate(snap, proxy), request: r.value, address });
}

const gw = gatewayProxy();
const sc = sidecarProxy({ app: 'productpage' });

describe('explain through a gateway', () => {
  it('weighted split: listener, route configuration, virtual host, route, VirtualService, clusters with shares and endpoints', () => {
    const e = explain(gw, ['GET', 'http://shop.example.com:8080/buy']);
    assert.equal(e.listener?.name, '0.0.0.0_8080');
    assert.equal(e.routeConfiguration, 'http.8080');
    assert.equal(e.virtualHost?.domain, 'shop.example.com');
    assert.equal(e.route?.name, 'split');
    assert.equal(e.virtualService, 'VirtualService default/edge');
    assert.deepEqual(e.rejectedRoutes.map((r) => r.name), ['moved', 'teapot', 'canary']);
    assert.equal(e.outcome.kind, 'route');
    if (e.outcome.kind !== 'route') return;
    assert.deepEqual(e.outcome.clusters.map((c) => [c.name, c.percent, c.endpoints.map((x) => `${x.address}:${x.port}`)]), [
      ['outbound|9080|v1|reviews.default.svc.cluster.local', 75, ['10.1.0.1:9080']],
      ['outbound|9080|v2|reviews.default.svc.cluster.local', 25, ['10.1.0.2:9080']],
    ]);
  });
  it('redirect and direct response are answered by Envoy itself', () => {
    assert.deepEqual(explain(gw, ['http://shop.example.com:8080/old']).outcome, { kind: 'redirect', status: 302, location: 'http://shop.example.com/new' });
    assert.deepEqual(explain(gw, ['http://shop.example.com:8080/teapot']).outcome, { kind: 'direct-response', status: 418, body: 'short and stout' });
  });
  it('a subset without endpoints: 503 no healthy upstream, said so', () => {
    const e = explain(gw, ['http://shop.example.com:8080/', '-H', 'x-canary:1']);
    assert.equal(e.outcome.kind, 'route');
    if (e.outcome.kind === 'route') assert.match(e.outcome.clusters[0].problem ?? '', /no healthy endpoint.*503/);
  });
  it('httpsRedirect server: 301 to https', () => {
    const e = explain(gw, ['http://secure.example.com:8081/x']);
    assert.deepEqual(e.outcome, { kind: 'redirect', status: 301, location: 'https://secure.example.com/x' });
  });
  it('no listener on the port: refused', () => {
    const e = explain(gw, ['http://shop.example.com:9999/']);
    assert.equal(e.outcome.kind, 'refused');
    assert.match(e.steps[0], /no listener on port 9999/);
  });
});

describe('explain through a sidecar', () => {
  it('virtualOutbound → 0.0.0.0_9080 → route configuration 9080 → the service virtual host → header route', () => {
    const e = explain(sc, ['http://reviews:9080/r', '-H', 'end-user: jason']);
    assert.equal(e.listener?.name, '0.0.0.0_9080');
    assert.equal(e.routeConfiguration, '9080');
    assert.equal(e.virtualHost?.name, 'reviews.default.svc.cluster.local:9080');
    assert.equal(e.route?.name, 'jason');
    assert.equal(e.virtualService, 'VirtualService default/reviews');
    if (e.outcome.kind === 'route') assert.deepEqual(e.outcome.clusters.map((c) => c.name), ['outbound|9080|v2|reviews.default.svc.cluster.local']);
    else assert.fail(JSON.stringify(e.outcome));
  });
  it('the gateway-bound VirtualService also applies to the mesh (gateways: mesh) only for its hosts; unknown hosts pass through', () => {
    const e = explain(sc, ['http://unknown.example.org:9080/']);
    assert.equal(e.virtualHost?.name, 'allow_any');
    if (e.outcome.kind === 'route') assert.deepEqual(e.outcome.clusters.map((c) => [c.name, c.type]), [['PassthroughCluster', 'ORIGINAL_DST']]);
    else assert.fail(JSON.stringify(e.outcome));
  });
  it('a TCP service by its VIP: VIP_PORT listener, tcp_proxy', () => {
    const db = snap.serviceByHost('db.default.svc.cluster.local');
    const e = explain(sc, ['http://db:5432/'], db!.addresses[0]);
    assert.equal(e.listener?.name, `${db!.addresses[0]}_5432`);
    assert.equal(e.outcome.kind, 'tcp');
    if (e.outcome.kind === 'tcp') assert.deepEqual(e.outcome.clusters.map((c) => c.endpoints.map((x) => x.address)), [['10.1.0.9']]);
  });
  it('a port no service uses: virtualOutbound catch-all (PassthroughCluster)', () => {
    const e = explain(sc, ['http://1.2.3.4:7777/']);
    assert.equal(e.listener?.name, 'virtualOutbound');
    assert.equal(e.outcome.kind, 'tcp');
    if (e.outcome.kind === 'tcp') assert.equal(e.outcome.clusters[0].name, 'PassthroughCluster');
  });
});
