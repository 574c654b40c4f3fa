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
import { translateEndpointsFor, type LoadAssignmentMemo } from '../../../src/translator/endpoint-updates.js';
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

  it('a memo shared by proxies gives each the assignments it would get alone (its key covers the client namespace)', () => {
    const r = meshRegistry();
    // svc-3's endpoints are pods labelled v1 / v2; ns-0's own rule calls v2 "v1", ns-3's rule calls v1 "v1".
    const pods = ['v1', 'v2'].map((v, j) => must({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${v}`, namespace: 'ns-3', labels: { version: v } }, status: { podIP: `10.3.0.${j + 1}` } }));
    const labelled = must({ ...endpointSlice(3), endpoints: ['v1', 'v2'].map((v, j) => ({ addresses: [`10.3.0.${j + 1}`], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `p-${v}`, namespace: 'ns-3' } })) } as unknown);
    const ownRule = must({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'svc-3-local', namespace: 'ns-0' }, spec: { host: 'svc-3.ns-3.svc.cluster.local', exportTo: ['.'], subsets: [{ name: 'v1', labels: { version: 'v2' } }] } });
    r.applyAll([...pods, labelled, ownRule].map((object) => ({ type: 'add' as const, object })));
    const proxies = [sidecarProxy(0), sidecarProxy(10), sidecarProxy(1), sidecarProxy(11), gatewayProxy()];
    const clusters = new Map(proxies.map((p) => [p.id, translate(r.snapshot(), p).clusters]));
    const moved = must({ ...labelled, endpoints: [...(labelled as unknown as { endpoints: unknown[] }).endpoints, { addresses: ['10.3.0.9'], conditions: { ready: true } }] } as unknown);
    const change = changeOf(r, () => r.apply({ type: 'update', object: moved }));
    const memo: LoadAssignmentMemo = { version: r.snapshot().version, byKey: new Map() };
    const shared = proxies.map((p) => translateEndpointsFor(r.snapshot(), p, clusters.get(p.id)!, change.endpoints!, memo));
    const alone = proxies.map((p) => translateEndpointsFor(r.snapshot(), p, clusters.get(p.id)!, change.endpoints!));
    assert.deepEqual(shared, alone);
    const v1 = (i: number) => JSON.stringify(shared[i]!.find((e) => e.name.includes('|v1|')));
    assert.notEqual(v1(0), v1(2), 'ns-0 and ns-1 see different v1 subsets');
    assert.equal(shared[0]!.find((e) => e.name.includes('|v1|')), shared[1]!.find((e) => e.name.includes('|v1|')), 'two ns-0 proxies share one object');
    assert.throws(() => translateEndpointsFor(r.snapshot(), proxies[0], [], change.endpoints!, { version: 0, byKey: new Map() }), /memo of version 0/);
  });

  it('applies the proxy\'s locality load balancing as a full translation does (failover priorities), also with a shared memo', () => {
    const r = meshRegistry();
    // svc-4's endpoints are pods in two regions; its DestinationRule has outlier detection (locality failover on).
    const locs = ['r1.z1', 'r2.z2', 'r2.z2'];
    const pods = locs.map((l, j) => must({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `w-${j}`, namespace: 'ns-4', labels: { 'istio-locality': l } }, status: { phase: 'Running', podIP: `10.4.0.${j + 1}` } }));
    const slice = (n: number) => must({ ...endpointSlice(4), endpoints: locs.slice(0, n).map((_, j) => ({ addresses: [`10.4.0.${j + 1}`], conditions: { ready: true } })) } as unknown);
    const failover = must({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'svc-4', namespace: 'ns-4' }, spec: { host: 'svc-4.ns-4.svc.cluster.local', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 } } } });
    r.applyAll([...pods, slice(2), failover].map((object) => ({ type: 'add' as const, object })));
    const at = (p: ProxyInfo, l: string): ProxyInfo => ({ ...p, labels: { ...p.labels, 'istio-locality': l } });
    const proxies = [at(sidecarProxy(0), 'r1.z1'), at(sidecarProxy(10), 'r2.z2'), at(gatewayProxy(), 'r2.z2')];
    proxies.forEach((proxy, i) => assert.equal(assertSameAsFull(r, proxy, () => r.apply({ type: 'update', object: slice(i % 2 === 0 ? 3 : 2) })), 1));
    const clusters = new Map(proxies.map((p) => [p.id, translate(r.snapshot(), p).clusters]));
    const change = changeOf(r, () => r.apply({ type: 'update', object: slice(2) }));
    const memo: LoadAssignmentMemo = { version: r.snapshot().version, byKey: new Map() };
    const shared = proxies.map((p) => translateEndpointsFor(r.snapshot(), p, clusters.get(p.id)!, change.endpoints!, memo));
    assert.deepEqual(shared, proxies.map((p) => translate(r.snapshot(), p).endpoints.filter((e) => e.name.endsWith('|svc-4.ns-4.svc.cluster.local'))));
    const priorities = (i: number) => JSON.stringify((shared[i]![0].value as { endpoints: Array<{ priority?: number }> }).endpoints.map((e) => e.priority ?? 0));
    assert.equal(priorities(0), '[0,1]', 'r1 proxy: its own region first');
    assert.equal(priorities(1), '[1,0]', 'r2 proxy (same namespace, same memo): its own region first');
  });

  it('uses the DestinationRule a workloadSelector gives the proxy, as a full translation does (its locality failover)', () => {
    const r = meshRegistry();
    const locs = ['r1.z1', 'r2.z2'];
    const pods = locs.map((l, j) => must({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `w-${j}`, namespace: 'ns-4', labels: { 'istio-locality': l } }, status: { phase: 'Running', podIP: `10.4.0.${j + 1}` } }));
    const slice = (n: number) => must({ ...endpointSlice(4), endpoints: locs.slice(0, n).map((_, j) => ({ addresses: [`10.4.0.${j + 1}`], conditions: { ready: true } })) } as unknown);
    // Only workloads labelled team=blue in ns-0 get locality failover (outlier detection on) for svc-4.
    const selected = must({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'svc-4-blue', namespace: 'ns-0' }, spec: {
      host: 'svc-4.ns-4.svc.cluster.local', workloadSelector: { matchLabels: { team: 'blue' } }, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 } } } });
    r.applyAll([...pods, slice(1), selected].map((object) => ({ type: 'add' as const, object })));
    const blue: ProxyInfo = { ...sidecarProxy(0), labels: { app: 'app', team: 'blue', 'istio-locality': 'r1.z1' } };
    assertSameAsFull(r, blue, () => r.apply({ type: 'update', object: slice(2) }));
    const cla = translate(r.snapshot(), blue).endpoints.find((e) => e.name.endsWith('|svc-4.ns-4.svc.cluster.local'))!;
    assert.equal(JSON.stringify((cla.value as { endpoints: Array<{ priority?: number }> }).endpoints.map((e) => e.priority ?? 0)), '[0,1]', 'failover from the selected DestinationRule');
  });
});
