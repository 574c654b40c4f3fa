/**
 * Endpoint-only pushes through a real gateway Envoy, over State of the World and over Delta xDS:
 * when only a Service's EndpointSlice changes, meshpilot rebuilds just the ClusterLoadAssignments
 * (the push log says so), traffic moves to the new endpoint, and the listener / route / cluster
 * versions Envoy ACKed stay the same while the endpoints version moves; over Delta, the only
 * resource sent is the changed ClusterLoadAssignment.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, type Backend } from '../../helpers/backends.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, who } from '../gateway/fixture.js';
import { startGatewayStack, type GatewayStack, type Syncz } from '../gateway/gateway-stack.js';

const HOST = 'shop.example.com';

/** The service's only EndpointSlice, pointing at one backend (no Pod objects: an endpoint-only change). */
function slice(b: Backend): unknown {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'shop-slice', namespace: 'default', labels: { 'kubernetes.io/service-name': 'shop' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: b.port, protocol: 'TCP' }],
    endpoints: [{ addresses: [b.host], conditions: { ready: true } }],
  };
}

async function ackedVersions(stack: GatewayStack): Promise<Record<string, string | undefined>> {
  const syncz = await stack.mp.getJson<Syncz>('/debug/syncz');
  assert.equal(syncz.length, 1, 'one proxy connected');
  return Object.fromEntries(Object.entries(syncz[0].types).map(([k, t]) => [k, t.versionAcked]));
}

for (const protocol of ['sotw', 'delta'] as const) describe(`endpoint-only pushes (real Envoy, ${protocol})`, () => {
  const cfg = new ConfigDir();
  let stack: GatewayStack;
  let a: Backend;
  let b: Backend;
  let port: number;

  before(async () => {
    // Not on the gateway's own address (127.0.0.1): an endpoint there could change its listeners.
    [a, b] = await Promise.all([startBackend('a', { host: '127.0.0.2' }), startBackend('b', { host: '127.0.0.3' })]);
    port = await freePort();
    cfg.write('mesh.yaml', [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 9080 }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: [HOST] }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop', namespace: 'default' }, spec: { hosts: [HOST], gateways: ['gw'], http: [{ route: [{ destination: { host: 'shop.default.svc.cluster.local', port: { number: 9080 } } }] }] } },
    ]);
    cfg.write('endpoints.yaml', [slice(a)]);
    stack = await startGatewayStack(cfg, { delta: protocol === 'delta' });
    await stack.envoy.waitForListener(port);
  });
  after(async () => {
    // The backends go even when the no-NACK check fails (else they keep the test process alive).
    try {
      await stack?.stop();
    } finally {
      await Promise.all([a?.stop(), b?.stop()]);
    }
  });

  it('moves traffic to the new endpoint, rebuilding only ClusterLoadAssignments; other versions stay', async () => {
    await eventually(async () => (await who(port, HOST)) === 'a', 'traffic reaches a', 20_000);
    const before = await ackedVersions(stack);
    for (const k of ['listeners', 'routes', 'clusters', 'endpoints']) assert.ok(before[k], `${k} ACKed`);

    const sentBefore = stack.mp.events((e) => e.msg === 'sent (delta)').length;
    cfg.write('endpoints.yaml', [slice(b)]);
    await eventually(async () => (await who(port, HOST)) === 'b', 'traffic moves to b', 20_000);
    for (let i = 0; i < 20; i++) assert.equal(await who(port, HOST), 'b', 'every request goes to b');

    const push = stack.mp.events((e) => e.msg === 'push' && typeof e.reason === 'string' && e.reason.includes('EndpointSlice/default/shop-slice'));
    assert.equal(push.length, 1, 'one push for the slice change');
    assert.equal(push[0].endpointOnly, 1, 'the gateway was updated by the endpoint-only path');
    await eventually(async () => (await ackedVersions(stack)).endpoints !== before.endpoints, 'Envoy ACKed a new endpoints version', 10_000);
    const afterChange = await ackedVersions(stack);
    for (const k of ['listeners', 'routes', 'clusters']) assert.equal(afterChange[k], before[k], `${k} version unchanged`);
    if (protocol === 'delta') {
      const sent = stack.mp.events((e) => e.msg === 'sent (delta)').slice(sentBefore);
      assert.deepEqual(sent.map((e) => [e.kind, e.updated, e.removed]), [['endpoints', 1, 0]], 'only the changed ClusterLoadAssignment was sent');
    }
  });
});
