/** From a rejected Envoy resource back to the Istio objects it came from, on real translator output. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigPath, configPath } from '../../../src/translator/config-metadata.js';
import { translate } from '../../../src/translator/index.js';
import { originsOf, rejectionsByObject } from '../../../src/xds/provenance.js';
import type { ProxySyncStatus } from '../../../src/xds/connection.js';
import { gatewayProxy, service, snapshot } from '../translator/fixtures.js';

const config = `
${service('reviews', 'default', [{ name: 'http', port: 9080 }], [{ ip: '10.244.0.5', labels: { version: 'v1' } }])}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http2, protocol: HTTP}, hosts: ['other.example.com']}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  gateways: [istio-system/public]
  http:
  - match: [{uri: {regex: '/v[0-9]+/items/[a-z]+'}}]
    route: [{destination: {host: reviews.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.example.com]
  gateways: [istio-system/public]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local, subset: v1}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.default.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}]
`;

const resources = translate(snapshot(config), gatewayProxy());
const refs = (list: Array<{ kind: string; namespace: string; name: string }>) => list.map((r) => `${r.kind} ${r.namespace}/${r.name}`);

describe('provenance of rejected resources', () => {
  it('config paths round-trip in Istio\'s kebab-case form', () => {
    const path = configPath({ kind: 'DestinationRule', namespace: 'ns', name: 'r' });
    assert.equal(path, '/apis/networking.istio.io/v1/namespaces/ns/destination-rule/r');
    assert.deepEqual(parseConfigPath(path), { kind: 'DestinationRule', namespace: 'ns', name: 'r' });
    assert.deepEqual(parseConfigPath('/apis/networking.istio.io/v1/namespaces/ns/virtual-service/vs'), { kind: 'VirtualService', namespace: 'ns', name: 'vs' });
    assert.equal(parseConfigPath('/api/v1/namespaces/ns/services/x'), undefined);
  });

  it('a route configuration: the VirtualServices Envoy\'s message quotes, else all of its VirtualServices', () => {
    assert.deepEqual(refs(originsOf('routes', 'http.80', resources)), ['VirtualService default/api', 'VirtualService default/web']);
    const msg = "regex '/v[0-9]+/items/[a-z]+' RE2 program size of 25 > max program size of 10 set for the error level threshold.";
    assert.deepEqual(refs(originsOf('routes', 'http.80', resources, msg)), ['VirtualService default/api']);
    assert.deepEqual(refs(originsOf('routes', 'http.80', resources, 'something unrelated')), ['VirtualService default/api', 'VirtualService default/web']);
    assert.deepEqual(originsOf('routes', 'no-such-route', resources), []);
  });

  it('a cluster or its load assignment: the DestinationRule that applies; none without one', () => {
    assert.deepEqual(refs(originsOf('clusters', 'outbound|9080|v1|reviews.default.svc.cluster.local', resources)), ['DestinationRule default/reviews']);
    assert.deepEqual(refs(originsOf('endpoints', 'outbound|9080||reviews.default.svc.cluster.local', resources)), ['DestinationRule default/reviews']);
    const noRule = translate(snapshot(config.split('---').slice(0, -1).join('---')), gatewayProxy());
    assert.deepEqual(originsOf('clusters', 'outbound|9080||reviews.default.svc.cluster.local', noRule), []);
  });

  it('a gateway listener: every Gateway whose servers made it', () => {
    assert.deepEqual(refs(originsOf('listeners', resources.listeners[0].name, resources)), ['Gateway istio-system/other', 'Gateway istio-system/public']);
    assert.deepEqual(originsOf('secrets', 'kubernetes://x', resources), []);
  });

  it('per object, the connected proxies that reject configuration made from it', () => {
    const nack = (name: string, message: string) => ({ name, message, version: 'v', nonce: 'n', at: '' });
    const proxies: ProxySyncStatus[] = [
      { id: 'gw-b', connectedAt: '', types: { routes: { subscribed: ['http.80'], nackedResources: [nack('http.80', "regex '/v[0-9]+/items/[a-z]+' too big")] } } },
      { id: 'gw-a', connectedAt: '', types: {
        routes: { subscribed: ['http.80'], nackedResources: [nack('http.80', "regex '/v[0-9]+/items/[a-z]+' too big")] },
        clusters: { subscribed: '*', nackedResources: [nack('outbound|9080|v1|reviews.default.svc.cluster.local', 'bad cluster')] },
      } },
      { id: 'gw-c', connectedAt: '', types: { routes: { subscribed: ['http.80'] } } },
      { id: 'gone', connectedAt: '', types: { routes: { subscribed: ['http.80'], nackedResources: [nack('http.80', 'x')] } } },
    ];
    // A route configuration guessed wrongly as rejected alongside (its name is in the message by chance):
    // the message quotes a route of http.80 only, so the other one's VirtualServices are not blamed.
    const withOther = { ...resources, routes: [...resources.routes, { name: '80', value: { name: '80', virtualHosts: [{ name: 'x', domains: ['*'], routes: [{ match: { prefix: '/' }, metadata: { filterMetadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/innocent' } } } }] }] } }] };
    proxies.push({ id: 'gw-d', connectedAt: '', types: { routes: { subscribed: ['80', 'http.80'], nackedResources: [nack('80', "regex '/v[0-9]+/items/[a-z]+' size 80"), nack('http.80', "regex '/v[0-9]+/items/[a-z]+' size 80")] } } });
    const byObject = rejectionsByObject(proxies, (id) => (id === 'gone' ? undefined : id === 'gw-d' ? withOther : resources));
    assert.deepEqual([...byObject.keys()].sort(), ['DestinationRule/default/reviews', 'VirtualService/default/api']);
    assert.deepEqual(byObject.get('VirtualService/default/api')!.rejections.map((r) => r.proxy), ['gw-a', 'gw-b', 'gw-d']);
    assert.deepEqual(byObject.get('DestinationRule/default/reviews')!.rejections, [{ proxy: 'gw-a', kind: 'clusters', name: 'outbound|9080|v1|reviews.default.svc.cluster.local', message: 'bad cluster' }]);
  });
});
