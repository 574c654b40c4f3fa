/**
 * Sidecars that share an outbound key (namespace, workload labels, DNS domain) share one outbound
 * build from a snapshot: the result must be exactly what each gets without sharing, inbound side
 * (their own addresses) included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { must, sidecarProxy, syntheticMesh } from '../../../bench/mesh.js';
import { parseNodeId, type ProxyInfo } from '../../../src/proxy/node.js';
import { Registry } from '../../../src/registry/store.js';
import { outboundKey, translate, type OutboundMemo } from '../../../src/translator/index.js';

/** A sidecar in ns-1 at `ip`, with the given labels. */
function sidecarAt(ip: string, pod: string, labels: Record<string, string>): ProxyInfo {
  const p = parseNodeId(`sidecar~${ip}~${pod}.ns-1~ns-1.svc.cluster.local`);
  assert.ok(p.ok);
  return { ...p.value, labels };
}

describe('outbound configuration shared between sidecars', () => {
  it('gives every sidecar exactly its unshared translation, and builds each outbound key once', () => {
    const r = new Registry();
    const scoped = must({
      apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'canary', namespace: 'ns-1' },
      spec: { workloadSelector: { labels: { track: 'canary' } }, egress: [{ hosts: ['./*'] }] },
    });
    r.applyAll([...syntheticMesh({ services: 40, virtualServices: 6, routes: 30 }), scoped].map((object) => ({ type: 'add' as const, object })));
    const snapshot = r.snapshot();
    const proxies = [
      // svc-1's endpoints are 10.0.1.10-12: these two have inbound listeners, the next one none.
      sidecarAt('10.0.1.10', 'a', { app: 'svc-1' }),
      sidecarAt('10.0.1.11', 'b', { app: 'svc-1' }),
      sidecarAt('10.250.0.9', 'c', { app: 'svc-1' }),
      sidecarAt('10.250.0.10', 'd', { app: 'svc-1', track: 'canary' }),
      sidecarProxy(0), sidecarProxy(10), sidecarProxy(1),
    ];
    const memo: OutboundMemo = { version: snapshot.version, byKey: new Map() };
    const shared = proxies.map((p) => translate(snapshot, p, memo));
    proxies.forEach((p, i) => assert.deepEqual(shared[i], translate(snapshot, p), `${p.id}: same as translated alone`));
    assert.equal(memo.byKey.size, new Set(proxies.map(outboundKey)).size);
    assert.equal(memo.byKey.size, 4, 'ns-1 app=svc-1, ns-1 canary, ns-0 app, ns-1 app');
    // A pod that is an endpoint of svc-1 and one that is not differ in their inbound side only.
    assert.notDeepEqual(shared[0].listeners, shared[2].listeners);
    assert.deepEqual(shared[0].routes, shared[2].routes);
    assert.equal(shared[0].routes[0], shared[1].routes[0], 'one route configuration object for both');
    assert.ok(shared[3].clusters.length < shared[2].clusters.length, 'the Sidecar-scoped canary sees fewer services');
    assert.throws(() => translate(r.snapshot(), proxies[0], { version: snapshot.version + 1, byKey: new Map() }), /memo of version/);
  });
});
