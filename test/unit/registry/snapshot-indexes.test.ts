/** Snapshot indexes: gateways by workload, VirtualServices by gateway (resolution, order, exportTo), mesh VirtualServices, namespaces. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewayKey, snapshotFromObjects } from '../../../src/registry/snapshot.js';
import { gateway, gatewayVs, objs, pod, service, virtualService } from './fixtures.js';

const names = (list: readonly { metadata: { namespace: string; name: string } }[]) => list.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);

describe('gatewayKey: VirtualService gateway references', () => {
  const table: Array<[string, string]> = [
    ['mesh', 'mesh'], ['gw', 'apps/gw'], ['istio-system/gw', 'istio-system/gw'], ['./gw', 'apps/gw'],
    ['gw.istio-system.svc.cluster.local', 'istio-system/gw'], ['gw.istio-system', 'istio-system/gw'],
  ];
  for (const [ref, want] of table) it(`${ref} (in namespace apps) → ${want}`, () => assert.equal(gatewayKey(ref, 'apps'), want));
});

describe('gatewaysForWorkload', () => {
  const snap = snapshotFromObjects(objs(
    gateway('ingress', 'istio-system', { istio: 'ingressgateway' }, '2026-01-02T00:00:00Z'),
    gateway('two-labels', 'apps', { istio: 'ingressgateway', team: 'a' }, '2026-01-03T00:00:00Z'),
    gateway('egress', 'istio-system', { istio: 'egressgateway' }),
    gateway('all', 'zz', undefined, '2026-01-01T00:00:00Z'),
  ));
  const table: Array<[string, Record<string, string>, string[]]> = [
    ['selector is a subset of the labels; empty selector matches every workload (Istio); oldest first', { istio: 'ingressgateway', app: 'x' }, ['zz/all', 'istio-system/ingress']],
    ['all selector labels must match', { istio: 'ingressgateway', team: 'a' }, ['zz/all', 'istio-system/ingress', 'apps/two-labels']],
    ['a gateway without timestamp counts as oldest', { istio: 'egressgateway' }, ['istio-system/egress', 'zz/all']],
    ['no labels: only the empty selector', {}, ['zz/all']],
  ];
  for (const [what, labels, want] of table) it(what, () => assert.deepEqual(names(snap.gatewaysForWorkload(labels)), want));

  it('the gateways list itself is sorted by namespace/name', () => {
    assert.deepEqual(names(snap.gateways), ['apps/two-labels', 'istio-system/egress', 'istio-system/ingress', 'zz/all']);
  });
});

describe('virtualServicesForGateway', () => {
  const snap = snapshotFromObjects(objs(
    gatewayVs('late', 'istio-system', ['gw'], '2026-02-01T00:00:00Z'),
    gatewayVs('early', 'other', ['istio-system/gw', 'mesh'], '2026-01-01T00:00:00Z'),
    gatewayVs('same-second-b', 'aa', ['istio-system/gw'], '2026-01-15T00:00:00Z'),
    gatewayVs('same-second-a', 'zz', ['istio-system/gw'], '2026-01-15T00:00:00Z'),
    gatewayVs('fqdn', 'apps', ['gw.istio-system.svc.cluster.local'], '2026-03-01T00:00:00Z'),
    gatewayVs('twice', 'apps', ['istio-system/gw', 'gw.istio-system'], '2026-04-01T00:00:00Z'),
    gatewayVs('elsewhere', 'other', ['gw'], '2025-01-01T00:00:00Z'),
    virtualService('meshonly', 'default', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] }),
    gatewayVs('offset-time', 'apps', ['istio-system/gw'], '2026-01-01T00:30:00+01:00'),
  ));

  it('binds short, namespaced and FQDN references; oldest first, then name, then namespace; a VirtualService once', () => {
    assert.deepEqual(names(snap.virtualServicesForGateway('istio-system/gw')), [
      'apps/offset-time', 'other/early', 'zz/same-second-a', 'aa/same-second-b', 'istio-system/late', 'apps/fqdn', 'apps/twice',
    ]);
    assert.deepEqual(names(snap.virtualServicesForGateway('other/gw')), ['other/elsewhere']);
    assert.deepEqual(snap.virtualServicesForGateway('nope/gw'), []);
  });

  it('mesh VirtualServices: no gateways, or "mesh" among them; objects without a timestamp first', () => {
    assert.deepEqual(names(snap.meshVirtualServices()), ['default/meshonly', 'other/early']);
  });

  it('for a proxy namespace: only VirtualServices exported to it, private first, then exported by name, then public', () => {
    const s = snapshotFromObjects(objs(
      gatewayVs('public-old', 'apps', ['istio-system/gw'], '2026-01-01T00:00:00Z'),
      gatewayVs('to-gw-ns', 'apps', ['istio-system/gw'], '2026-01-02T00:00:00Z', { exportTo: ['istio-system'] }),
      gatewayVs('private-own', 'istio-system', ['gw'], '2026-01-03T00:00:00Z', { exportTo: ['.'] }),
      gatewayVs('private-apps', 'apps', ['istio-system/gw'], '2026-01-04T00:00:00Z', { exportTo: ['.'] }),
      gatewayVs('nobody', 'apps', ['istio-system/gw'], '2026-01-05T00:00:00Z', { exportTo: ['~'] }),
    ));
    assert.deepEqual(names(s.virtualServicesForGateway('istio-system/gw', 'istio-system')), ['istio-system/private-own', 'apps/to-gw-ns', 'apps/public-old']);
    assert.deepEqual(names(s.virtualServicesForGateway('istio-system/gw', 'apps')), ['apps/private-apps', 'apps/public-old']);
    assert.equal(s.virtualServicesForGateway('istio-system/gw').length, 5, 'without a proxy namespace: all of them');
    assert.equal(s.virtualServicesForGateway('istio-system/gw', 'apps'), s.virtualServicesForGateway('istio-system/gw', 'apps'), 'memoised');
  });
});

describe('namespaces and listing order', () => {
  it('namespaces from Namespace objects (with labels) and from every namespaced object, sorted', () => {
    const snap = snapshotFromObjects(objs(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { 'istio-injection': 'enabled' } } },
      service('a', 'zeta', [{ name: 'http', port: 80 }]),
      pod('p', 'alpha', {}),
    ));
    assert.deepEqual(snap.namespaces, [{ name: 'alpha', labels: {} }, { name: 'prod', labels: { 'istio-injection': 'enabled' } }, { name: 'zeta', labels: {} }]);
  });

  it('equal inputs in any order give the same snapshot content', () => {
    const docs = objs(
      service('b', 'default', [{ name: 'http', port: 80 }]), service('a', 'default', [{ name: 'http', port: 80 }]),
      gatewayVs('v2', 'default', ['gw']), gatewayVs('v1', 'default', ['gw']),
      gateway('g2', 'default', { a: 'b' }), gateway('g1', 'default', { a: 'b' }),
    );
    const a = snapshotFromObjects(docs);
    const b = snapshotFromObjects([...docs].reverse());
    assert.deepEqual(a.services, b.services);
    assert.deepEqual(names(a.virtualServices), names(b.virtualServices));
    assert.deepEqual(names(a.gatewaysForWorkload({ a: 'b' })), names(b.gatewaysForWorkload({ a: 'b' })));
    assert.deepEqual(a.services.map((s) => s.hostname), ['a.default.svc.cluster.local', 'b.default.svc.cluster.local']);
  });

  it('carries version and mesh settings', () => {
    const snap = snapshotFromObjects([], { version: 7, rootNamespace: 'mesh-root', domainSuffix: 'corp' });
    assert.equal(snap.version, 7);
    assert.deepEqual(snap.mesh, { rootNamespace: 'mesh-root', domainSuffix: 'corp' });
    assert.deepEqual(snapshotFromObjects([]).mesh, { rootNamespace: 'istio-system', domainSuffix: 'cluster.local' });
  });
});
