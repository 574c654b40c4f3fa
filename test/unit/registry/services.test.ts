/** The service model: Kubernetes Services + EndpointSlices/Endpoints + Pods, and ServiceEntries, into MeshServices. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MeshService } from '../../../src/registry/model.js';
import { snapshotFromObjects } from '../../../src/registry/snapshot.js';
import { objs, pod, service, serviceEntry, slice } from './fixtures.js';

const FQDN = 'reviews.default.svc.cluster.local';
const svcOf = (docs: unknown[], host = FQDN, opts = {}): MeshService => {
  const s = snapshotFromObjects(objs(...docs), opts).serviceByHost(host);
  assert.ok(s, `service ${host}`);
  return s;
};
const eps = (s: MeshService) => s.endpoints.map((e) => ({ address: e.address, ready: e.ready, version: e.labels.version ?? '', ports: { ...e.ports }, locality: e.locality }));

describe('Kubernetes Service + EndpointSlices', () => {
  const reviews = service('reviews', 'default', [{ name: 'http', port: 9080, targetPort: 9080 }, { name: 'grpc-x', port: 7070, targetPort: 'grpc' }]);

  it('names, addresses and ports (numeric targetPort kept, named ones left to the slices)', () => {
    const s = svcOf([reviews]);
    assert.equal(s.hostname, FQDN);
    assert.equal(s.source, 'kubernetes');
    assert.equal(s.resolution, 'STATIC');
    assert.equal(s.location, 'MESH_INTERNAL');
    assert.deepEqual(s.addresses, ['10.96.0.10']);
    assert.deepEqual(s.exportTo, ['*']);
    assert.deepEqual(s.ports, [{ name: 'http', port: 9080, protocol: 'HTTP', targetPort: 9080 }, { name: 'grpc-x', port: 7070, protocol: 'GRPC' }]);
  });

  it('uses the domain suffix', () => {
    assert.equal(svcOf([reviews], 'reviews.default.svc.example.org', { domainSuffix: 'example.org' }).name, 'reviews');
  });

  it('endpoints: pod labels via targetRef or pod IP, readiness, ports by name, one endpoint per workload across slices', () => {
    const s = svcOf([
      reviews,
      slice('r-a', 'default', 'reviews', [{ name: 'http', port: 19080 }, { name: 'extra', port: 1 }], [
        { addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'reviews-v1', namespace: 'default' }, zone: 'z1' },
        { addresses: ['10.0.0.2'], conditions: { ready: false } },
        { addresses: ['10.0.0.3'], conditions: {} },
      ]),
      slice('r-b', 'default', 'reviews', [{ name: 'grpc-x', port: 17070 }], [
        { addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'reviews-v1', namespace: 'default' }, zone: 'z1' },
      ]),
      slice('other', 'default', 'ratings', [{ name: 'http', port: 1 }], [{ addresses: ['10.9.9.9'] }]),
      pod('reviews-v1', 'default', { app: 'reviews', version: 'v1' }),
      pod('reviews-v3', 'default', { app: 'reviews', version: 'v3' }, '10.0.0.3'),
    ]);
    assert.deepEqual(eps(s), [
      { address: '10.0.0.1', ready: true, version: 'v1', ports: { http: 19080, 'grpc-x': 17070 }, locality: '/z1' },
      { address: '10.0.0.2', ready: false, version: '', ports: { http: 19080 }, locality: '' },
      { address: '10.0.0.3', ready: true, version: 'v3', ports: { http: 19080 }, locality: '' },
    ]);
    assert.equal(s.endpoints[0].namespace, 'default');
    assert.equal(s.endpoints[0].weight, 1);
  });

  it('locality: istio-locality label, else region/zone/subzone labels, else the slice zone', () => {
    const s = svcOf([
      reviews,
      slice('r', 'default', 'reviews', [{ name: 'http', port: 9080 }], [
        { addresses: ['10.0.0.1'], targetRef: { kind: 'Pod', name: 'a' }, zone: 'ignored' },
        { addresses: ['10.0.0.2'], targetRef: { kind: 'Pod', name: 'b' }, zone: 'ignored' },
        { addresses: ['10.0.0.3'], zone: 'zone-c' },
      ]),
      pod('a', 'default', { 'istio-locality': 'eu.eu-1.rack7' }),
      pod('b', 'default', { 'topology.kubernetes.io/region': 'us', 'topology.kubernetes.io/zone': 'us-2', 'topology.istio.io/subzone': 's' }),
    ]);
    assert.deepEqual(s.endpoints.map((e) => e.locality), ['eu/eu-1/rack7', 'us/us-2/s', '/zone-c']);
  });

  it('ignores FQDN slices and falls back to legacy Endpoints only without slices', () => {
    const legacy = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'reviews', namespace: 'default' }, subsets: [
      { addresses: [{ ip: '10.1.0.2', targetRef: { kind: 'Pod', name: 'reviews-v2' } }], notReadyAddresses: [{ ip: '10.1.0.1' }], ports: [{ name: 'http', port: 29080 }, { name: 'nope', port: 1 }] },
    ] };
    const v2 = pod('reviews-v2', 'default', { version: 'v2' });
    assert.deepEqual(eps(svcOf([reviews, legacy, v2])), [
      { address: '10.1.0.1', ready: false, version: '', ports: { http: 29080 }, locality: '' },
      { address: '10.1.0.2', ready: true, version: 'v2', ports: { http: 29080 }, locality: '' },
    ]);
    const withSlice = svcOf([reviews, legacy, v2, slice('r', 'default', 'reviews', [{ name: 'http', port: 9080 }], [{ addresses: ['10.2.0.1'] }])]);
    assert.deepEqual(withSlice.endpoints.map((e) => e.address), ['10.2.0.1']);
    const fqdnOnly = svcOf([reviews, slice('r', 'default', 'reviews', [{ name: 'http', port: 9080 }], [{ addresses: ['db.example.com'] }], 'FQDN')]);
    assert.deepEqual(fqdnOnly.endpoints, []);
  });

  it('an unnamed single port maps to the unnamed slice port', () => {
    const s = svcOf([service('reviews', 'default', [{ port: 80 }]), slice('r', 'default', 'reviews', [{ port: 8080 }], [{ addresses: ['10.0.0.1'] }])]);
    assert.deepEqual(s.ports, [{ name: '', port: 80, protocol: 'TCP' }]);
    assert.deepEqual(s.endpoints[0].ports, { '': 8080 });
  });

  it('headless, dual-stack, exportTo annotation, ExternalName', () => {
    assert.deepEqual(svcOf([service('reviews', 'default', [{ name: 'http', port: 80 }], { clusterIP: 'None' })]).addresses, []);
    assert.deepEqual(svcOf([service('reviews', 'default', [{ name: 'http', port: 80 }], { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::10'] })]).addresses, ['10.96.0.10', 'fd00::10']);
    const exported = svcOf([service('reviews', 'default', [{ name: 'http', port: 80 }], {}, { annotations: { 'networking.istio.io/exportTo': '., istio-system' } })]);
    assert.deepEqual(exported.exportTo, ['default', 'istio-system']);
    const ext = svcOf([service('reviews', 'default', [{ name: 'https', port: 443 }], { type: 'ExternalName', externalName: 'api.example.com', clusterIP: undefined })]);
    assert.equal(ext.resolution, 'DNS');
    assert.equal(ext.location, 'MESH_EXTERNAL');
    assert.deepEqual(ext.addresses, []);
    assert.deepEqual(ext.endpoints.map((e) => [e.address, e.ports.https]), [['api.example.com', 443]]);
  });
});

describe('ServiceEntry', () => {
  const se = (spec: Record<string, unknown>, name = 'ext', ns = 'egress', ts?: string) => serviceEntry(name, ns, spec, ts);

  it('one service per host; endpoint port: its own, else targetPort, else the port; weight, labels, locality', () => {
    const snap = snapshotFromObjects(objs(se({
      hosts: ['a.example.com', 'b.example.com'], addresses: ['240.0.0.1'], location: 'MESH_INTERNAL', resolution: 'STATIC',
      ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }, { number: 443, name: 'tls', protocol: 'TLS' }],
      endpoints: [{ address: '192.0.2.1', labels: { v: '1' }, locality: 'r/z' }, { address: '192.0.2.2', ports: { http: 9000 }, weight: 5 }],
    })));
    const a = snap.serviceByHost('a.example.com')!;
    const b = snap.serviceByHost('b.example.com')!;
    assert.equal(b.name, 'ext');
    assert.deepEqual([a.source, a.namespace, a.location, a.resolution], ['serviceentry', 'egress', 'MESH_INTERNAL', 'STATIC']);
    assert.deepEqual(a.addresses, ['240.0.0.1']);
    assert.deepEqual(a.ports, [{ name: 'http', port: 80, protocol: 'HTTP', targetPort: 8080 }, { name: 'tls', port: 443, protocol: 'TLS' }]);
    assert.deepEqual(a.endpoints.map((e) => [e.address, e.ports.http, e.ports.tls, e.weight, e.labels.v ?? '', e.locality]), [
      ['192.0.2.1', 8080, 443, 1, '1', 'r/z'], ['192.0.2.2', 9000, 443, 5, '', ''],
    ]);
  });

  const defaults: Array<[string, Record<string, unknown>, Partial<Pick<MeshService, 'resolution' | 'location'>> & { exportTo?: string[] }]> = [
    ['resolution defaults to NONE, location to MESH_EXTERNAL, exportTo to *', {}, { resolution: 'NONE', location: 'MESH_EXTERNAL', exportTo: ['*'] }],
    ['DNS', { resolution: 'DNS' }, { resolution: 'DNS' }],
    ['DNS_ROUND_ROBIN', { resolution: 'DNS_ROUND_ROBIN' }, { resolution: 'DNS_ROUND_ROBIN' }],
    ['exportTo "." becomes the own namespace', { exportTo: ['.'] }, { exportTo: ['egress'] }],
  ];
  for (const [what, extra, want] of defaults) {
    it(what, () => {
      const s = snapshotFromObjects(objs(se({ hosts: ['x.example.com'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }], ...extra }))).serviceByHost('x.example.com')!;
      if (want.resolution) assert.equal(s.resolution, want.resolution);
      if (want.location) assert.equal(s.location, want.location);
      if (want.exportTo) assert.deepEqual(s.exportTo, want.exportTo);
    });
  }

  it('workloadSelector: ready state and labels of matching pods in the same namespace, on the targetPort', () => {
    const snap = snapshotFromObjects(objs(
      se({ hosts: ['vm.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', workloadSelector: { labels: { app: 'vm' } }, ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }] }, 'vm', 'apps'),
      pod('vm-b', 'apps', { app: 'vm', v: 'b' }, '10.0.0.2', { conditions: [{ type: 'Ready', status: 'False' }] }),
      pod('vm-a', 'apps', { app: 'vm', v: 'a' }, '10.0.0.1', { phase: 'Running' }),
      pod('vm-done', 'apps', { app: 'vm' }, '10.0.0.3', { phase: 'Succeeded' }),
      pod('vm-elsewhere', 'other', { app: 'vm' }, '10.0.0.4'),
      pod('not-vm', 'apps', { app: 'web' }, '10.0.0.5'),
    ));
    const s = snap.serviceByHost('vm.internal')!;
    assert.deepEqual(s.endpoints.map((e) => [e.address, e.ready, e.labels.v, e.ports.http, e.namespace]), [
      ['10.0.0.1', true, 'a', 8080, 'apps'], ['10.0.0.2', false, 'b', 8080, 'apps'],
    ]);
  });

  it('host shared by ServiceEntries and a Kubernetes Service: Kubernetes wins, else the oldest ServiceEntry; all are listed', () => {
    const spec = { hosts: [FQDN], ports: [{ number: 9080, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' };
    const ses = [se(spec, 'young', 'default', '2026-02-01T00:00:00Z'), se(spec, 'old', 'other', '2026-01-01T00:00:00Z')];
    assert.equal(snapshotFromObjects(objs(...ses)).serviceByHost(FQDN)!.name, 'old');
    const snap = snapshotFromObjects(objs(...ses, service('reviews', 'default', [{ name: 'http', port: 9080 }])));
    assert.equal(snap.serviceByHost(FQDN)!.source, 'kubernetes');
    assert.deepEqual(snap.services.map((s) => `${s.namespace}/${s.name}`), ['default/reviews', 'default/young', 'other/old']);
  });
});

describe('proxy labels from the registry', async () => {
  const { translate } = await import('../../../src/translator/index.js');
  const { parseNodeId } = await import('../../../src/proxy/node.js');
  it('a gateway proxy that sends no LABELS is matched by its pod labels', () => {
    const snap = snapshotFromObjects(objs(
      pod('gw-0', 'istio-system', { istio: 'ingressgateway' }, '10.1.1.1'),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'g', namespace: 'istio-system' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } },
    ));
    assert.deepEqual(snap.workloadLabels('istio-system', 'gw-0'), { istio: 'ingressgateway' });
    assert.deepEqual(snap.workloadLabels('istio-system', 'unknown', '10.1.1.1'), { istio: 'ingressgateway' });
    assert.equal(snap.workloadLabels('istio-system', 'unknown', '10.9.9.9'), undefined);
    const p = parseNodeId('router~10.1.1.1~gw-0.istio-system~istio-system.svc.cluster.local');
    assert.ok(p.ok);
    assert.deepEqual(translate(snap, p.value).listeners.map((l) => l.name), ['0.0.0.0_80']);
  });
});
