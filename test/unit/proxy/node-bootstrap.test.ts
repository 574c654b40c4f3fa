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
