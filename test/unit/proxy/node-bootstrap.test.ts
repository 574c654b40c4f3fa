import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBootstrap } from '../../../src/proxy/bootstrap.js';
import { parseNodeId } from '../../../src/proxy/node.js';

describe('parseNodeId', () => {
  it('parses Istio-style node ids', () => {
    const r = parseNodeId('sidecar~10.1.2.3~reviews-v2-abc.default~default.svc.cluster.local', { LABELS: { app: 'reviews', version: 'v2' }, INSTANCE_IPS: '10.1.2.3,fd00::3' });
    assert.ok(r.ok);
    assert.deepEqual([r.value.type, r.value.podName, r.value.namespace, r.value.ips, r.value.labels.version], ['sidecar', 'reviews-v2-abc', 'default', ['10.1.2.3', 'fd00::3'], 'v2']);
  });
  it('rejects malformed ids with a reason', () => {
    for (const id of ['', 'router~1.2.3.4', 'gateway~1.2.3.4~a.b~c']) {
      const r = parseNodeId(id);
      assert.equal(r.ok, false, id);
    }
  });
});

describe('buildBootstrap', () => {
  it('points ADS at meshpilot over TCP or a unix socket, with node metadata', () => {
    const b = buildBootstrap({ nodeId: 'router~127.0.0.1~gw.istio-system~istio-system.svc.cluster.local', labels: { istio: 'ingressgateway' }, xdsAddress: '127.0.0.1:15010' }) as any;
    assert.equal(b.node.metadata.NAMESPACE, 'istio-system');
    assert.deepEqual(b.node.metadata.LABELS, { istio: 'ingressgateway' });
    assert.deepEqual(b.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, { socket_address: { address: '127.0.0.1', port_value: 15010 } });
    assert.deepEqual(b.admin.address.socket_address, { address: '127.0.0.1', port_value: 15000 });
    assert.equal(b.dynamic_resources.ads_config.api_type, 'GRPC');
    const u = buildBootstrap({ nodeId: 'sidecar~10.0.0.5~p.ns~ns.svc.cluster.local', xdsAddress: 'unix:///run/meshpilot/xds.sock' }) as any;
    assert.deepEqual(u.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, { pipe: { path: '/run/meshpilot/xds.sock' } });
  });
});

describe('buildBootstrap options and errors', () => {
  const node = 'sidecar~10.0.0.5~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local';
  it('derives cluster and namespace from the node id unless given', () => {
    const b = buildBootstrap({ nodeId: node, xdsAddress: '127.0.0.1:15010' }) as any;
    assert.deepEqual([b.node.cluster, b.node.metadata.NAMESPACE, b.node.metadata.LABELS], ['reviews-v1-abc.bookinfo', 'bookinfo', {}]);
    const c = buildBootstrap({ nodeId: node, namespace: 'other', cluster: 'reviews.bookinfo', xdsAddress: '127.0.0.1:15010', metadata: { CLUSTER_ID: 'k1' } }) as any;
    assert.deepEqual([c.node.cluster, c.node.metadata.NAMESPACE, c.node.metadata.CLUSTER_ID], ['reviews.bookinfo', 'other', 'k1']);
  });
  it('uses ADS for LDS and CDS over an HTTP/2 static cluster', () => {
    const b = buildBootstrap({ nodeId: node, xdsAddress: '[::1]:15010', adminAddress: '127.0.0.1:19000' }) as any;
    assert.deepEqual(b.dynamic_resources.lds_config, { ads: {}, resource_api_version: 'V3' });
    assert.deepEqual(b.dynamic_resources.cds_config, { ads: {}, resource_api_version: 'V3' });
    assert.equal(b.dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name, 'xds-grpc');
    const xds = b.static_resources.clusters[0];
    assert.equal(xds.name, 'xds-grpc');
    assert.ok(xds.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config.http2_protocol_options);
    assert.deepEqual(xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, { socket_address: { address: '::1', port_value: 15010 } });
    assert.deepEqual(b.admin.address.socket_address, { address: '127.0.0.1', port_value: 19000 });
  });
  for (const [addr, error] of [['localhost', /expected HOST:PORT/], ['127.0.0.1:0', /bad port/], ['127.0.0.1:99999', /bad port/], ['127.0.0.1:http', /bad port/]] as const) {
    it(`rejects xDS address ${addr}`, () => assert.throws(() => buildBootstrap({ nodeId: node, xdsAddress: addr }), error));
  }
});
