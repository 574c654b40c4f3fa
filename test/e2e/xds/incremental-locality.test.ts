/**
 * Endpoint-only pushes keep locality load balancing (real gateway Envoy, SotW and Delta): with a
 * DestinationRule that has outlier detection (locality failover on, as in Istio), the endpoints in
 * the gateway's own region have priority 0 and the others priority 1. An EndpointSlice change goes
 * through the endpoint-only path, and the rebuilt ClusterLoadAssignment must keep those priorities
 * (as a full translation gives them): traffic stays on the local endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, type Backend } from '../../helpers/backends.js';
import { httpGet } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, who } from '../gateway/fixture.js';
import { startGatewayStack, type GatewayStack } from '../gateway/gateway-stack.js';

const HOST = 'shop.example.com';
const CLUSTER = 'outbound|9080||shop.default.svc.cluster.local';

/** The service's EndpointSlice over some of the backends (each backend is a Pod with its own locality). */
function slice(backends: Backend[]): unknown {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'shop-slice', namespace: 'default', labels: { 'kubernetes.io/service-name': 'shop' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: backends[0].port, protocol: 'TCP' }],
    endpoints: backends.map((b) => ({ addresses: [b.host], conditions: { ready: true } })),
  };
}

function pod(name: string, ip: string, locality: string): unknown {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: 'shop', 'istio-locality': locality } }, status: { phase: 'Running', podIP: ip } };
}

/** Per endpoint address, the priority Envoy holds for it in the shop cluster's assignment. */
async function priorities(stack: GatewayStack): Promise<Record<string, number>> {
  const r = await httpGet(`${stack.envoy.adminUrl}/config_dump?include_eds&resource=dynamic_endpoint_configs`);
  const dump = JSON.parse(r.body) as { configs: Array<{ endpoint_config?: { cluster_name: string; endpoints?: Array<{ priority?: number; lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string } } } }> }> } }> };
  const cla = dump.configs.find((c) => c.endpoint_config?.cluster_name === CLUSTER)?.endpoint_config;
  const out: Record<string, number> = {};
  for (const l of cla?.endpoints ?? []) for (const e of l.lb_endpoints) out[e.endpoint.address.socket_address.address] = l.priority ?? 0;
  return out;
}

for (const protocol of ['sotw', 'delta'] as const) describe(`endpoint-only pushes keep locality failover (real Envoy, ${protocol})`, () => {
  const cfg = new ConfigDir();
  let stack: GatewayStack;
  let backends: Backend[];
  let port: number;

  before(async () => {
    // Not on the gateway's own address (127.0.0.1): an endpoint there could change its listeners.
    backends = await Promise.all(['a', 'b', 'c'].map((n, i) => startBackend(n, { host: `127.0.0.${i + 2}` })));
    const [a, b, c] = backends;
    port = await freePort();
    cfg.write('mesh.yaml', [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 9080 }] } },
      pod('shop-a', a.host, 'us-east.zone1'), pod('shop-b', b.host, 'eu-west.zone1'), pod('shop-c', c.host, 'eu-west.zone1'),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'shop', namespace: 'default' }, spec: { host: 'shop.default.svc.cluster.local', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' } } } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: [HOST] }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop', namespace: 'default' }, spec: { hosts: [HOST], gateways: ['gw'], http: [{ route: [{ destination: { host: 'shop.default.svc.cluster.local', port: { number: 9080 } } }] }] } },
    ]);
    cfg.write('endpoints.yaml', [slice([a, b])]);
    stack = await startGatewayStack(cfg, { delta: protocol === 'delta', extraLabels: { 'istio-locality': 'us-east.zone1' } });
    await stack.envoy.waitForListener(port);
  });
  after(async () => {
    // The backends go even when the no-NACK check fails (else they keep the test process alive).
    try {
      await stack?.stop();
    } finally {
      await Promise.all((backends ?? []).map((b) => b.stop()));
    }
  });

  it('after an EndpointSlice change, the remote region still has priority 1 and traffic stays local', async () => {
    const [a, b, c] = backends;
    await eventually(async () => (await who(port, HOST)) === 'a', 'traffic reaches a', 20_000);
    assert.deepEqual(await priorities(stack), { [a.host]: 0, [b.host]: 1 }, 'full translation: own region first');

    cfg.write('endpoints.yaml', [slice([a, b, c])]);
    await eventually(async () => Object.keys(await priorities(stack)).length === 3, 'Envoy holds the new endpoint', 20_000);
    const push = stack.mp.events((e) => e.msg === 'push' && typeof e.reason === 'string' && e.reason.includes('EndpointSlice/default/shop-slice'));
    assert.equal(push.length, 1, 'one push for the slice change');
    assert.equal(push[0].endpointOnly, 1, 'the gateway was updated by the endpoint-only path');
    assert.deepEqual(await priorities(stack), { [a.host]: 0, [b.host]: 1, [c.host]: 1 }, 'endpoint-only update: own region still first');
    for (let i = 0; i < 20; i++) assert.equal(await who(port, HOST), 'a', 'every request stays in the gateway\'s region');
  });
});
