/**
 * translateEndpointsFor must give, for an endpoint-only change, exactly the ClusterLoadAssignments
 * a full translation gives (subsets, DestinationRules and target ports included), and must refuse
 * (undefined) whenever the change can alter more than endpoints for the proxy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpointSlice, gatewayProxy, must, sidecarProxy, syntheticMesh } from '../../../bench/mesh.js';
import type { ProxyInfo } from '../../../src/proxy/node.js';
import { Registry, type RegistryChange } from '../../../src/registry/store.js';
import { translateEndpointsFor } from '../../../src/translator/endpoint-updates.js';
import { translate } from '../../../src/translator/index.js';

const size = { services: 30, virtualServices: 5, routes: 20 };
const subsetRule = must({
  apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'svc-3', namespace: 'ns-3' },
  spec: { host: 'svc-3.ns-3.svc.cluster.local', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] },
});

function meshRegistry(): Registry {
  const r = new Registry();
  r.applyAll([...syntheticMesh(size), subsetRule].map((object) => ({ type: 'add' as const, object })));
  return r;
}

function changeOf(r: Registry, apply: () => void): RegistryChange {
  let change: RegistryChange | undefined;
  const off = r.onChange((c) => { change = c; });
  apply();
  off();
  assert.ok(change, 'the registry changed');
  return change;
}

/** Incremental CLAs merged into the old resources equal a full translation of the new snapshot. */
function assertSameAsFull(r: Registry, proxy: ProxyInfo, apply: () => void): number {
  const before = translate(r.snapshot(), proxy);
  const change = changeOf(r, apply);
  assert.ok(change.endpoints, 'an endpoint-only change');
  const updated = translateEndpointsFor(r.snapshot(), proxy, before.clusters, change.endpoints);
  assert.ok(updated, 'no full translation needed');
  const byName = new Map(updated.map((e) => [e.name, e]));
  const merged = before.endpoints.map((e) => byName.get(e.name) ?? e);
  const full = translate(r.snapshot(), proxy);
  assert.deepEqual(merged, full.endpoints);
  assert.deepEqual(before.clusters, full.clusters);
  assert.deepEqual(before.listeners, full.listeners);
  assert.deepEqual(before.routes, full.routes);
  return updated.length;
}

describe('translateEndpointsFor', () => {
  it('rebuilds exactly the changed service\'s assignments, subsets included (sidecar and gateway)', () => {
    for (const proxy of [sidecarProxy(0), gatewayProxy()]) {
      const r = meshRegistry();
      // svc-3 has subsets v1/v2: three CLAs change, nothing else.
      const moved = must({ ...endpointSlice(3, 7), endpoints: [{ addresses: ['10.9.9.9'], conditions: { ready: true } }] } as unknown);
      assert.equal(assertSameAsFull(r, proxy, () => r.apply({ type: 'update', object: moved })), 3);
      assert.equal(assertSameAsFull(r, proxy, () => r.apply({ type: 'update', object: endpointSlice(5, 2) })), 1);
      assert.equal(assertSameAsFull(r, proxy, () => r.apply({ type: 'delete', object: endpointSlice(6) })), 1);
      assert.equal(assertSameAsFull(r, proxy, () => r.apply({ type: 'add', object: endpointSlice(6) })), 1);
    }
  });

  it('is not endpoint-only when the proxy\'s own address is among the changed endpoints, or for proxyless gRPC', () => {
    const r = meshRegistry();
    const gw = gatewayProxy();
    const own = must({ ...endpointSlice(4, 1), endpoints: [{ addresses: [gw.ips[0]], conditions: { ready: true } }] } as unknown);
    const change = changeOf(r, () => r.apply({ type: 'update', object: own }));
    assert.ok(change.endpoints);
    assert.equal(translateEndpointsFor(r.snapshot(), gw, translate(r.snapshot(), gw).clusters, change.endpoints), undefined);
    // Leaving again: the old version held the address.
    const back = changeOf(r, () => r.apply({ type: 'update', object: endpointSlice(4) }));
    assert.equal(translateEndpointsFor(r.snapshot(), gw, translate(r.snapshot(), gw).clusters, back.endpoints!), undefined);
    const grpc = { ...sidecarProxy(1), metadata: { ...sidecarProxy(1).metadata, GENERATOR: 'grpc' } };
    assert.equal(translateEndpointsFor(r.snapshot(), grpc, [], back.endpoints!), undefined);
  });

  it('the registry reports endpoint-only changes only for endpoints of existing Services', () => {
    const r = meshRegistry();
    assert.deepEqual(changeOf(r, () => r.apply({ type: 'update', object: endpointSlice(2, 1) })).endpoints?.services, ['ns-2/svc-2']);
    // A slice of a Service that does not exist, a slice without a service, anything else: full pushes.
    assert.equal(changeOf(r, () => r.apply({ type: 'add', object: endpointSlice(99) })).endpoints, undefined);
    const orphan = must({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'x', namespace: 'ns-1' }, addressType: 'IPv4', endpoints: [] });
    assert.equal(changeOf(r, () => r.apply({ type: 'add', object: orphan })).endpoints, undefined);
    assert.equal(changeOf(r, () => r.applyAll([
      { type: 'update', object: endpointSlice(2, 3) },
      { type: 'delete', object: subsetRule },
    ])).endpoints, undefined);
  });
});
