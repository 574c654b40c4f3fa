/**
 * After endpoint-only changes the registry derives its snapshot from the last full build; it must
 * equal a full build of the same objects in everything the translator reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpointSlice, gatewayProxy, must, sidecarProxy, syntheticMesh } from '../../../bench/mesh.js';
import type { ConfigSnapshot } from '../../../src/registry/model.js';
import { snapshotFromObjects } from '../../../src/registry/snapshot.js';
import { Registry } from '../../../src/registry/store.js';
import { translate } from '../../../src/translator/index.js';

const size = { services: 40, virtualServices: 5, routes: 20 };

function assertSameSnapshot(derived: ConfigSnapshot, full: ConfigSnapshot): void {
  assert.equal(derived.version, full.version);
  assert.deepEqual(derived.services, full.services);
  for (const s of full.services) assert.deepEqual(derived.serviceByHost(s.hostname), full.serviceByHost(s.hostname));
  assert.deepEqual(derived.namespaces, full.namespaces);
  for (const p of [sidecarProxy(0), sidecarProxy(3), gatewayProxy()]) assert.deepEqual(translate(derived, p), translate(full, p));
  assert.ok(Object.isFrozen(derived) && Object.isFrozen(derived.services));
}

describe('derived snapshots (endpoint-only changes)', () => {
  it('equal a full build after slice updates, deletes, re-adds and legacy Endpoints, and share unchanged services', () => {
    const r = new Registry();
    r.applyAll(syntheticMesh(size).map((object) => ({ type: 'add' as const, object })));
    const first = r.snapshot();
    const steps: Array<() => void> = [
      () => r.apply({ type: 'update', object: endpointSlice(3, 1) }),
      () => r.applyAll([{ type: 'update', object: endpointSlice(3, 2) }, { type: 'update', object: endpointSlice(7, 5) }]),
      () => r.apply({ type: 'delete', object: endpointSlice(7) }),
      () => r.apply({ type: 'add', object: endpointSlice(7, 9) }),
      // A second slice for the same service, then legacy Endpoints of a service.
      () => r.apply({ type: 'add', object: must({ ...endpointSlice(3, 4), metadata: { name: 'svc-3-extra', namespace: 'ns-3', labels: { 'kubernetes.io/service-name': 'svc-3' } } } as unknown) }),
      () => r.apply({ type: 'add', object: must({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'svc-11', namespace: 'ns-1' }, subsets: [{ addresses: [{ ip: '10.77.0.1' }], ports: [{ name: 'http', port: 8080 }] }] }) }),
    ];
    for (const step of steps) {
      // The change is applied only after a snapshot was taken, so every step derives.
      step();
      const derived = r.snapshot();
      assertSameSnapshot(derived, snapshotFromObjects(r.objects(), { version: r.version }));
      const untouched = derived.services.find((s) => s.name === 'svc-20');
      assert.equal(untouched, first.services.find((s) => s.name === 'svc-20'), 'unchanged services are shared, not rebuilt');
    }
    // Any other change: a full build again, still equal.
    r.apply({ type: 'add', object: must({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'd', namespace: 'ns-3' }, spec: { host: 'svc-3.ns-3.svc.cluster.local', subsets: [{ name: 'a', labels: { v: 'a' } }] } }) });
    assertSameSnapshot(r.snapshot(), snapshotFromObjects(r.objects(), { version: r.version }));
    r.apply({ type: 'update', object: endpointSlice(3, 8) });
    assertSameSnapshot(r.snapshot(), snapshotFromObjects(r.objects(), { version: r.version }));
  });

  it('keep deriving (no full build) across more changed services than one batch of replacements holds; older snapshots stay as they were', () => {
    const big = { services: 300, virtualServices: 5, routes: 20 };
    const r = new Registry();
    r.applyAll(syntheticMesh(big).map((object) => ({ type: 'add' as const, object })));
    const first = r.snapshot();
    const hosts = first.services.map((s) => s.hostname);
    // What a snapshot answers by host (looked up anew on every call, unlike its memoised services list).
    const byHost = (snap: ConfigSnapshot) => JSON.stringify(hosts.map((h) => snap.serviceByHost(h)));
    const kept: Array<[ConfigSnapshot, string]> = [];
    for (let i = 1; i <= 280; i++) {
      r.apply({ type: 'update', object: endpointSlice((i * 7) % big.services, 100 + i) });
      const snap = r.snapshot();
      if (i % 70 === 0) kept.push([snap, byHost(snap)]);
    }
    const last = r.snapshot();
    assert.equal(last.meshVirtualServices, first.meshVirtualServices, 'derived from the first build (its indexes shared), not rebuilt');
    const full = snapshotFromObjects(r.objects(), { version: r.version });
    assert.deepEqual(last.services, full.services);
    for (const s of full.services) assert.deepEqual(last.serviceByHost(s.hostname), full.serviceByHost(s.hostname));
    for (const [snap, answers] of kept) assert.equal(byHost(snap), answers, `snapshot ${snap.version} unchanged by later changes`);
    assert.notEqual(byHost(kept[0][0]), byHost(last), 'later changes did change the services');
  });
});
