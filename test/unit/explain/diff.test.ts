/** diffJson / diffResources (what changed in a proxy's xDS) and the proxies a config implies. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffJson, diffResources, isEmptyDiff } from '../../../src/explain/diff.js';
import { impliedProxies } from '../../../src/explain/proxies.js';
import { emptyResources } from '../../../src/translator/types.js';
import { objects, service } from '../translator/fixtures.js';

describe('diffJson', () => {
  it('reports changed, added and removed fields by path', () => {
    assert.deepEqual(diffJson({ a: 1, b: { c: 'x', d: [1, 2] }, gone: true }, { a: 2, b: { c: 'x', d: [1, 3, 4] }, added: 'y' }), [
      { path: 'a', from: 1, to: 2 },
      { path: 'added', to: 'y' },
      { path: 'b.d[1]', from: 2, to: 3 },
      { path: 'b.d[2]', to: 4 },
      { path: 'gone', from: true },
    ]);
  });
  it('compares arrays of named objects by name: an insertion is one change, a reorder is reported', () => {
    const a = [{ name: 'r1', v: 1 }, { name: 'r2', v: 2 }];
    assert.deepEqual(diffJson(a, [{ name: 'r0', v: 0 }, ...a]), [{ path: '[r0]', to: { name: 'r0', v: 0 } }]);
    assert.deepEqual(diffJson(a, [a[1], a[0]]), [{ path: '[*]', from: 'order r1, r2', to: 'order r2, r1' }]);
  });
  it('equal values: no change', () => {
    assert.deepEqual(diffJson({ x: [{ name: 'a' }] }, { x: [{ name: 'a' }] }), []);
  });
});

describe('diffResources', () => {
  it('per type: added, removed, changed (with a cap and a count of the rest); unchanged types left out', () => {
    const a = emptyResources();
    const b = emptyResources();
    a.clusters.push({ name: 'c1', value: { name: 'c1', n: 1 } }, { name: 'old', value: {} });
    b.clusters.push({ name: 'c1', value: { name: 'c1', n: 2 } }, { name: 'new', value: {} });
    a.routes.push({ name: 'r', value: { f: Array.from({ length: 30 }, (_, i) => i) } });
    b.routes.push({ name: 'r', value: { f: Array.from({ length: 30 }, (_, i) => i + 1) } });
    const d = diffResources(a, b, 20);
    assert.deepEqual(Object.keys(d).sort(), ['clusters', 'routes']);
    assert.deepEqual(d.clusters, { added: ['new'], removed: ['old'], changed: [{ name: 'c1', changes: [{ path: 'n', from: 1, to: 2 }], more: 0 }] });
    assert.equal(d.routes!.changed[0].changes.length, 20);
    assert.equal(d.routes!.changed[0].more, 10);
    assert.equal(isEmptyDiff(diffResources(a, a)), true);
  });
});

describe('impliedProxies', () => {
  it('one gateway per selector and namespace, one sidecar per workload (Pod labels, Sidecar selector) and one per namespace with services or workloads (not for a Gateway\'s)', () => {
    const objs = objects([
      service('reviews', 'default', [{ name: 'http', port: 9080 }], [{ ip: '10.1.0.1', labels: { version: 'v1' } }, { ip: '10.1.0.2', labels: { version: 'v1' } }, { ip: '10.1.0.3', labels: { version: 'v2' } }]),
      service('db', 'data', [{ name: 'tcp', port: 5432 }]),
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: b, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 81, name: http, protocol: HTTP}, hosts: ["*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s, namespace: data}
spec: {workloadSelector: {labels: {app: batch}}, egress: [{hosts: ["./*"]}]}`,
    ].join('\n---\n'));
    const ids = impliedProxies(objs).map((p) => `${p.id} ${JSON.stringify(p.labels)}`);
    assert.deepEqual(ids, [
      'router~192.0.2.1~gateway-istio-ingressgateway.istio-system~istio-system.svc.cluster.local {"istio":"ingressgateway"}',
      'sidecar~10.1.0.1~reviews-0.default~default.svc.cluster.local {"app":"reviews","version":"v1"}',
      'sidecar~10.1.0.3~reviews-2.default~default.svc.cluster.local {"app":"reviews","version":"v2"}',
      'sidecar~192.0.2.1~app-batch.data~data.svc.cluster.local {"app":"batch"}',
      'sidecar~192.0.2.1~workload.data~data.svc.cluster.local {}',
      'sidecar~192.0.2.1~workload.default~default.svc.cluster.local {}',
    ]);
  });
});
