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
import { changingVirtualService, endpointSlice } from '../../../bench/mesh.js';
import { outboundKey, translate, TranslationMemo } from '../../../src/translator/index.js';
import type { ConfigSnapshot } from '../../../src/registry/model.js';

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
    const memo = new TranslationMemo();
    const shared = proxies.map((p) => translate(snapshot, p, memo));
    proxies.forEach((p, i) => assert.deepEqual(shared[i], translate(snapshot, p), `${p.id}: same as translated alone`));
    assert.equal(memo.outboundBuilds, new Set(proxies.map((p) => outboundKey(snapshot, p))).size);
    // No selector or match looks at `app`: ns-1 (a, b, c and sidecar 1), ns-1 track=canary, ns-0.
    assert.equal(memo.outboundBuilds, 3);
    // A pod that is an endpoint of svc-1 and one that is not differ in their inbound side only.
    assert.notDeepEqual(shared[0].listeners, shared[2].listeners);
    assert.deepEqual(shared[0].routes, shared[2].routes);
    assert.equal(shared[0].routes[0], shared[1].routes[0], 'one route configuration object for both');
    assert.ok(shared[3].clusters.length < shared[2].clusters.length, 'the Sidecar-scoped canary sees fewer services');
  });
});

describe('outbound keys: the workload labels something looks at', () => {
  it('sidecars whose labels differ only where nothing looks share; every label a selector, match, failover or locality reads separates', () => {
    const r = new Registry();
    const extra = [
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'by-source', namespace: 'ns-1' }, spec: {
        hosts: ['svc-1.ns-1.svc.cluster.local'],
        http: [{ match: [{ sourceLabels: { version: 'v2' } }], route: [{ destination: { host: 'svc-2.ns-2.svc.cluster.local' } }] }, { route: [{ destination: { host: 'svc-1.ns-1.svc.cluster.local' } }] }],
      } },
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'for-team', namespace: 'ns-1' }, spec: {
        host: 'svc-3.ns-3.svc.cluster.local', workloadSelector: { matchLabels: { team: 'blue' } }, trafficPolicy: { connectionPool: { tcp: { maxConnections: 7 } } },
      } },
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'failover', namespace: 'ns-1' }, spec: {
        host: 'svc-5.ns-5.svc.cluster.local',
        trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 }, loadBalancer: { localityLbSetting: { enabled: true, failoverPriority: ['rack', 'tier=gold'] } } },
      } },
    ].map(must);
    r.applyAll([...syntheticMesh({ services: 12, virtualServices: 3, routes: 9 }), ...extra].map((object) => ({ type: 'add' as const, object })));
    const snapshot = r.snapshot();
    const labelSets: Array<Record<string, string>> = [
      { app: 'a' }, { app: 'b' }, { app: 'a', version: 'v2' }, { app: 'a', team: 'blue' }, { app: 'a', rack: 'r1' }, { app: 'a', rack: 'r2' },
      { app: 'a', tier: 'gold' }, { app: 'a', 'topology.kubernetes.io/region': 'eu' }, { app: 'a', 'istio-locality': 'us.east' }, { app: 'c', version: 'v1' },
    ];
    const proxies = labelSets.map((labels, i) => sidecarAt(`10.250.1.${i + 1}`, `p${i}`, labels));
    const memo = new TranslationMemo();
    const shared = proxies.map((p) => translate(snapshot, p, memo));
    proxies.forEach((p, i) => assert.deepEqual(shared[i], translate(snapshot, p), `${JSON.stringify(p.labels)}: same as translated alone`));
    assert.equal(outboundKey(snapshot, proxies[0]), outboundKey(snapshot, proxies[1]), 'app is read by nothing');
    // The labels do matter: had they been left out of the key, these would have been shared.
    assert.notDeepEqual(shared[2].routes, shared[0].routes, 'sourceLabels version=v2 picks another route');
    assert.notDeepEqual(shared[3].clusters, shared[0].clusters, 'team=blue gets its DestinationRule');
    assert.equal(memo.outboundBuilds, labelSets.length - 1);
  });
});

describe('translation memo across snapshots', () => {
  const size = { services: 40, virtualServices: 6, routes: 30 };
  const proxies = [sidecarAt('10.0.1.10', 'a', { app: 'svc-1' }), sidecarAt('10.250.0.9', 'c', { app: 'svc-1' }), sidecarProxy(0), sidecarProxy(10)];
  const names = (xs: ReadonlyArray<{ name: string }>) => xs.map((x) => x.name);

  /** Translates every proxy with the memo, checking each result against a translation without it. */
  function translateAll(snapshot: ConfigSnapshot, memo: TranslationMemo) {
    return proxies.map((p) => {
      const t = translate(snapshot, p, memo);
      assert.deepEqual(t, translate(snapshot, p), `${p.id} at version ${snapshot.version}: same as without the memo`);
      return t;
    });
  }

  it('after a VirtualService change only the route configuration it changed is a new object; every other list is the previous one', () => {
    const r = new Registry();
    r.applyAll([...syntheticMesh(size), changingVirtualService(size, 'istio-system/public')].map((object) => ({ type: 'add' as const, object })));
    const memo = new TranslationMemo();
    const before = translateAll(r.snapshot(), memo);
    r.apply({ type: 'update', object: changingVirtualService(size, 'istio-system/public', 1) });
    const after = translateAll(r.snapshot(), memo);
    for (let i = 0; i < proxies.length; i++) {
      for (const kind of ['listeners', 'clusters', 'endpoints', 'secrets'] as const) assert.equal(after[i][kind], before[i][kind], `${proxies[i].id}: the same ${kind} list`);
      assert.notEqual(after[i].routes, before[i].routes);
      const changed = after[i].routes.filter((x, j) => x !== before[i].routes[j]);
      assert.deepEqual(names(changed), ['8080'], `${proxies[i].id}: only route configuration 8080 is new`);
      assert.notDeepEqual(changed[0].value, before[i].routes.find((x) => x.name === '8080')!.value);
    }
    // Sidecars of one outbound key share the new route configuration.
    assert.equal(after[2].routes.find((x) => x.name === '8080'), after[3].routes.find((x) => x.name === '8080'));
    // Within it, only the changed VirtualService's virtual host was built again (after endpoint changes too).
    const vhosts = (rs: typeof after[0]['routes']) => (rs.find((x) => x.name === '8080')!.value.virtualHosts as Array<Record<string, unknown>>);
    const rebuilt = (a: typeof after, b: typeof after) => vhosts(a[0].routes).filter((v, j) => v !== vhosts(b[0].routes)[j]).map((v) => v.name);
    assert.deepEqual(rebuilt(after, before), ['svc-0.ns-0.svc.cluster.local:8080']);
    // An endpoint change that (as in the server) reached the proxies only as new assignments, then
    // a VirtualService change: the same clusters, only svc-3's assignment and svc-0's virtual host new.
    r.apply({ type: 'update', object: endpointSlice(3, 7) });
    r.apply({ type: 'update', object: changingVirtualService(size, 'istio-system/public', 2) });
    const later = translateAll(r.snapshot(), memo);
    assert.deepEqual(rebuilt(later, after), ['svc-0.ns-0.svc.cluster.local:8080']);
    for (let i = 0; i < proxies.length; i++) {
      assert.equal(later[i].clusters, after[i].clusters, `${proxies[i].id}: the same clusters`);
      assert.deepEqual(names(later[i].endpoints.filter((x, j) => x !== after[i].endpoints[j])), ['outbound|8080||svc-3.ns-3.svc.cluster.local']);
    }
  });

  it('after an endpoint change only the changed ClusterLoadAssignment is new; a change undone gives back equal content', () => {
    const r = new Registry();
    r.applyAll(syntheticMesh(size).map((object) => ({ type: 'add' as const, object })));
    const memo = new TranslationMemo();
    const before = translateAll(r.snapshot(), memo);
    r.apply({ type: 'update', object: endpointSlice(3, 7) });
    const after = translateAll(r.snapshot(), memo);
    for (let i = 0; i < proxies.length; i++) {
      for (const kind of ['listeners', 'routes', 'clusters', 'secrets'] as const) assert.equal(after[i][kind], before[i][kind], `${proxies[i].id}: the same ${kind} list`);
      assert.deepEqual(names(after[i].endpoints.filter((x, j) => x !== before[i].endpoints[j])), ['outbound|8080||svc-3.ns-3.svc.cluster.local']);
    }
    r.apply({ type: 'update', object: endpointSlice(3) });
    const back = translateAll(r.snapshot(), memo);
    back.forEach((t, i) => assert.deepEqual(t, before[i]));
  });

  it('an older snapshot is translated without the memo', () => {
    const r = new Registry();
    r.applyAll(syntheticMesh(size).map((object) => ({ type: 'add' as const, object })));
    const old = r.snapshot();
    r.apply({ type: 'update', object: endpointSlice(3, 7) });
    const memo = new TranslationMemo();
    translateAll(r.snapshot(), memo);
    translateAll(old, memo);
    translateAll(r.snapshot(), memo);
  });
});
